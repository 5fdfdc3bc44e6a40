"""What the emulated system catalogs hold: the product's tables, their columns and primary keys, the
types they use, and nothing of the engine behind them. Pure: rows as dicts, per relation; columns a
relation has but a row does not name are NULL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mesh_sql.pgcatalog.rewrite import HELPERS
from mesh_sql.pgcatalog.types import TYPES, ColumnType, column_type

Row = dict[str, Any]

OWNER = "mesh"  # the role that owns every object (no client logs in as it)
OWNER_OID = 10
PG_CATALOG_OID = 11
INFORMATION_SCHEMA_OID = 13_000
DATABASE_OID = 16_384
FIRST_OID = 16_385
HEAP, BTREE = 2, 403
# The system catalogs' own oids, for `'pg_catalog.pg_class'::regclass` (PostgreSQL's fixed values).
SYSTEM_RELATIONS = {
    "pg_type": 1247,
    "pg_attribute": 1249,
    "pg_proc": 1255,
    "pg_class": 1259,
    "pg_database": 1262,
    "pg_namespace": 2615,
    "pg_constraint": 2606,
    "pg_am": 2601,
    "pg_index": 2610,
    "pg_description": 2609,
    "pg_attrdef": 2604,
    "pg_trigger": 2620,
    "pg_rewrite": 2618,
}


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    duckdb_type: str
    description: str | None = None


@dataclass(frozen=True)
class TableNotes:
    """What a relation's columns alone do not say: its primary key and descriptions (from a contract)."""

    primary_key: tuple[str, ...] = ()
    description: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)  # column name -> description


@dataclass(frozen=True)
class TableDoc:
    """One relation the SQL port serves, as the catalogs describe it."""

    schema: str
    name: str
    columns: tuple[ColumnDoc, ...]
    primary_key: tuple[str, ...] = ()
    description: str | None = None


@dataclass
class Contents:
    """The rows of every emulated relation, keyed by (schema, relation)."""

    database: str
    search_path: tuple[str, ...]
    rows: dict[tuple[str, str], list[Row]] = field(default_factory=dict)

    def add(self, schema: str, relation: str, row: Row) -> None:
        self.rows.setdefault((schema, relation), []).append(row)


def build(tables: Sequence[TableDoc], database: str, settings: Iterable[tuple[str, str]]) -> Contents:
    schemas = sorted({t.schema for t in tables})
    contents = Contents(database, tuple(schemas))
    _database(contents)
    namespaces = _namespaces(contents, schemas)
    _types(contents)
    oids = iter(range(FIRST_OID + len(schemas), 2**31))
    for table in tables:
        _table(contents, table, namespaces[table.schema], oids)
    for name, value in settings:
        contents.add(
            "pg_catalog", "pg_settings", {"name": name, "setting": value, "context": "user", "vartype": "string"}
        )
    return contents


def _database(contents: Contents) -> None:
    contents.add(
        "pg_catalog",
        "pg_database",
        {
            "oid": DATABASE_OID,
            "datname": contents.database,
            "datdba": OWNER_OID,
            "encoding": 6,
            "datlocprovider": "c",
            "datistemplate": False,
            "datallowconn": True,
            "datconnlimit": -1,
            "dattablespace": 1663,
            "datcollate": "C.UTF-8",
            "datctype": "C.UTF-8",
        },
    )
    role = {
        "rolname": OWNER,
        "rolsuper": False,
        "rolinherit": True,
        "rolcreaterole": False,
        "rolcreatedb": False,
        "rolcanlogin": False,
        "rolreplication": False,
        "rolconnlimit": -1,
        "rolbypassrls": False,
        "oid": OWNER_OID,
    }
    contents.add("pg_catalog", "pg_roles", role)
    contents.add(
        "pg_catalog", "pg_am", {"oid": HEAP, "amname": "heap", "amhandler": "heap_tableam_handler", "amtype": "t"}
    )
    contents.add("pg_catalog", "pg_am", {"oid": BTREE, "amname": "btree", "amhandler": "bthandler", "amtype": "i"})
    contents.add("pg_catalog", "pg_tablespace", {"oid": 1663, "spcname": "pg_default", "spcowner": OWNER_OID})
    contents.add("information_schema", "character_sets", {"character_set_name": "UTF8", "character_repertoire": "UCS"})
    contents.add("information_schema", "enabled_roles", {"role_name": OWNER})


def _namespaces(contents: Contents, schemas: list[str]) -> dict[str, int]:
    oids = {"pg_catalog": PG_CATALOG_OID, "information_schema": INFORMATION_SCHEMA_OID}
    oids |= {schema: FIRST_OID + i for i, schema in enumerate(schemas)}
    for name, oid in oids.items():
        contents.add("pg_catalog", "pg_namespace", {"oid": oid, "nspname": name, "nspowner": OWNER_OID})
        contents.add(
            "information_schema",
            "schemata",
            {"catalog_name": contents.database, "schema_name": name, "schema_owner": OWNER},
        )
    return oids


def _types(contents: Contents) -> None:
    for row in TYPES.values():
        stem = row.function
        contents.add(
            "pg_catalog",
            "pg_type",
            {
                "oid": row.oid,
                "typname": row.name,
                "typnamespace": PG_CATALOG_OID,
                "typowner": OWNER_OID,
                "typlen": row.length,
                "typbyval": row.by_value,
                "typtype": "b",
                "typcategory": row.category,
                "typispreferred": row.oid in (25, 701, 1184),
                "typisdefined": True,
                "typdelim": ",",
                "typrelid": 0,
                "typsubscript": "array_subscript_handler" if row.element else "-",
                "typelem": row.element,
                "typarray": row.array_oid,
                # PostgreSQL's own function names: clients (ADBC) recognise types by typreceive.
                "typinput": f"{stem}in",
                "typoutput": f"{stem}out",
                "typreceive": f"{stem}recv",
                "typsend": f"{stem}send",
                "typmodin": "-",
                "typmodout": "-",
                "typanalyze": "-",
                "typalign": row.align,
                "typstorage": "p" if row.by_value else "x",
                "typnotnull": False,
                "typbasetype": 0,
                "typtypmod": -1,
                "typndims": 0,
                "typcollation": 100 if row.category == "S" else 0,
            },
        )


def _table(contents: Contents, table: TableDoc, namespace: int, oids: Iterable[int]) -> None:
    numbers = iter(oids)
    oid = next(numbers)
    types = {c.name: column_type(c.duckdb_type) for c in table.columns}
    key = [i + 1 for i, c in enumerate(table.columns) if c.name in table.primary_key]
    key.sort(key=lambda n: table.primary_key.index(table.columns[n - 1].name))
    contents.add("pg_catalog", "pg_class", _class(oid, table.name, namespace, "r", HEAP, len(table.columns), bool(key)))
    contents.add(
        "pg_catalog",
        "pg_tables",
        {
            "schemaname": table.schema,
            "tablename": table.name,
            "tableowner": OWNER,
            "hasindexes": bool(key),
            "hasrules": False,
            "hastriggers": False,
            "rowsecurity": False,
        },
    )
    where = {"table_catalog": contents.database, "table_schema": table.schema, "table_name": table.name}
    contents.add(
        "information_schema",
        "tables",
        where | {"table_type": "BASE TABLE", "is_insertable_into": "NO", "is_typed": "NO"},
    )
    contents.add(
        "information_schema",
        "table_privileges",
        where
        | {
            "grantor": OWNER,
            "grantee": "PUBLIC",
            "privilege_type": "SELECT",
            "is_grantable": "NO",
            "with_hierarchy": "YES",
        },
    )
    if table.description:
        contents.add(
            "pg_catalog",
            "pg_description",
            {"objoid": oid, "classoid": 1259, "objsubid": 0, "description": table.description},
        )
    for number, column in enumerate(table.columns, start=1):
        kind = types[column.name]
        not_null = number in key
        contents.add("pg_catalog", "pg_attribute", _attribute(oid, column.name, number, kind, not_null))
        contents.add("information_schema", "columns", where | _information_column(column.name, number, kind, not_null))
        if column.description:
            contents.add(
                "pg_catalog",
                "pg_description",
                {"objoid": oid, "classoid": 1259, "objsubid": number, "description": column.description},
            )
    if key:
        _primary_key(contents, table, oid, namespace, key, types, next(numbers), next(numbers))


def _class(oid: int, name: str, namespace: int, kind: str, method: int, attributes: int, indexed: bool) -> Row:
    return {
        "oid": oid,
        "relname": name,
        "relnamespace": namespace,
        "reltype": 0,
        "reloftype": 0,
        "relowner": OWNER_OID,
        "relam": method,
        "relfilenode": 0,
        "reltablespace": 0,
        "relpages": 0,
        "reltuples": -1.0,
        "relallvisible": 0,
        "reltoastrelid": 0,
        "relhasindex": indexed,
        "relisshared": False,
        "relpersistence": "p",
        "relkind": kind,
        "relnatts": attributes,
        "relchecks": 0,
        "relhasrules": False,
        "relhastriggers": False,
        "relhassubclass": False,
        "relrowsecurity": False,
        "relforcerowsecurity": False,
        "relispopulated": True,
        "relreplident": "d" if kind == "r" else "n",
        "relispartition": False,
        "relrewrite": 0,
        "relfrozenxid": 0,
        "relminmxid": 0,
    }


def _attribute(relation: int, name: str, number: int, kind: ColumnType, not_null: bool) -> Row:
    row = kind.row
    return {
        "attrelid": relation,
        "attname": name,
        "atttypid": kind.oid,
        "attstattarget": -1,
        "attlen": row.length,
        "attnum": number,
        "attndims": kind.dimensions,
        "attcacheoff": -1,
        "atttypmod": kind.modifier,
        "attbyval": row.by_value,
        "attalign": row.align,
        "attstorage": "p" if row.by_value else "x",
        "attcompression": "",
        "attnotnull": not_null,
        "atthasdef": False,
        "atthasmissing": False,
        "attidentity": "",
        "attgenerated": "",
        "attisdropped": False,
        "attislocal": True,
        "attinhcount": 0,
        "attcollation": 100 if row.category == "S" else 0,
    }


def _information_column(name: str, number: int, kind: ColumnType, not_null: bool) -> Row:
    element = TYPES.get(kind.row.element) if kind.dimensions else None
    return {
        "column_name": name,
        "ordinal_position": number,
        "is_nullable": "NO" if not_null else "YES",
        "data_type": kind.information_schema_type,
        "numeric_precision": kind.precision,
        "numeric_precision_radix": (10 if kind.oid == 1700 else 2) if kind.precision is not None else None,
        "numeric_scale": kind.scale,
        "datetime_precision": kind.datetime_precision,
        "udt_catalog": None,
        "udt_schema": "pg_catalog",
        "udt_name": kind.row.name if element is None else f"_{element.name}",
        "dtd_identifier": str(number),
        "is_self_referencing": "NO",
        "is_identity": "NO",
        "is_generated": "NEVER",
        "is_updatable": "NO",
    }


def _primary_key(
    contents: Contents,
    table: TableDoc,
    relation: int,
    namespace: int,
    key: list[int],
    types: dict[str, ColumnType],
    index: int,
    constraint: int,
) -> None:
    name = f"{table.name}_pkey"
    columns = [table.columns[n - 1].name for n in key]
    contents.add("pg_catalog", "pg_class", _class(index, name, namespace, "i", BTREE, len(key), False))
    for position, column in enumerate(columns, start=1):
        contents.add("pg_catalog", "pg_attribute", _attribute(index, column, position, types[column], True))
    contents.add(
        "pg_catalog",
        "pg_index",
        {
            "indexrelid": index,
            "indrelid": relation,
            "indnatts": len(key),
            "indnkeyatts": len(key),
            "indisunique": True,
            "indnullsnotdistinct": False,
            "indisprimary": True,
            "indisexclusion": False,
            "indimmediate": True,
            "indisclustered": False,
            "indisvalid": True,
            "indcheckxmin": False,
            "indisready": True,
            "indislive": True,
            "indisreplident": False,
            "indkey": key,
            "indcollation": [0] * len(key),
            "indclass": [0] * len(key),
            "indoption": [0] * len(key),
        },
    )
    listed = ", ".join(columns)
    index_definition = f"CREATE UNIQUE INDEX {name} ON {table.schema}.{table.name} USING btree ({listed})"
    contents.add(
        "pg_catalog",
        "pg_constraint",
        {
            "oid": constraint,
            "conname": name,
            "connamespace": namespace,
            "contype": "p",
            "condeferrable": False,
            "condeferred": False,
            "convalidated": True,
            "conrelid": relation,
            "contypid": 0,
            "conindid": index,
            "conparentid": 0,
            "confrelid": 0,
            "confupdtype": " ",
            "confdeltype": " ",
            "confmatchtype": " ",
            "conislocal": True,
            "coninhcount": 0,
            "connoinherit": True,
            "conkey": key,
        },
    )
    contents.add(HELPERS, "definitions", {"oid": constraint, "definition": f"PRIMARY KEY ({listed})"})
    contents.add(HELPERS, "definitions", {"oid": index, "definition": index_definition})
    contents.add(
        "pg_catalog",
        "pg_indexes",
        {
            "schemaname": table.schema,
            "tablename": table.name,
            "indexname": name,
            "indexdef": index_definition,
        },
    )
    where = {
        "constraint_catalog": contents.database,
        "constraint_schema": table.schema,
        "constraint_name": name,
        "table_catalog": contents.database,
        "table_schema": table.schema,
        "table_name": table.name,
    }
    contents.add(
        "information_schema",
        "table_constraints",
        where
        | {
            "constraint_type": "PRIMARY KEY",
            "is_deferrable": "NO",
            "initially_deferred": "NO",
            "enforced": "YES",
            "nulls_distinct": "YES",
        },
    )
    for position, column in enumerate(columns, start=1):
        contents.add(
            "information_schema", "key_column_usage", where | {"column_name": column, "ordinal_position": position}
        )
        contents.add("information_schema", "constraint_column_usage", where | {"column_name": column})
