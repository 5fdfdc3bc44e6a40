"""The system catalogs of the SQL port: PostgreSQL's pg_catalog and information_schema as its clients
read them, describing exactly the product's tables in the schemas a query names them by.

They live in a DuckDB connection of their own that holds no product data and reaches no file (see
docs/architecture.md, "The SQL port's catalogs"): a query that reads them is rewritten for it
(`rewrite.py`), a query that reads the product's tables runs where they are; one that reads both is
refused."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from mesh_sql.errors import SqlRefused
from mesh_sql.guard import CheckedQuery, refuse_writes
from mesh_sql.pgcatalog import rewrite
from mesh_sql.pgcatalog.contents import SYSTEM_RELATIONS, Contents, TableDoc, build
from mesh_sql.pgcatalog.functions import macros
from mesh_sql.quoting import quote_identifier
from mesh_sql.sandbox import lock_down
from mesh_sql.system_catalogs import SCHEMAS

Spec = dict[tuple[str, str], list[tuple[str, str]]]
_HELPER_TABLES = {
    "definitions": [("oid", "BIGINT"), ("definition", "VARCHAR")],
    "system_relations": [("name", "VARCHAR"), ("oid", "BIGINT")],
}


@functools.cache
def relation_spec() -> Spec:
    """Every emulated relation's columns and DuckDB types (relations.tsv)."""
    spec: Spec = {}
    text = resources.files("mesh_sql.pgcatalog").joinpath("relations.tsv").read_text()
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        schema, relation, column, kind = line.split("\t")
        spec.setdefault((schema, relation), []).append((column, kind))
    return spec


def claim(sql: str, user_tables: Iterable[str]) -> CheckedQuery | None:
    """The query rewritten for the catalogs if it reads them (or only calls their functions), None
    if it is one for the product's tables. SqlRefused if it reads both, or anything but reads."""
    tree = rewrite.parse(sql)
    if tree is None or not isinstance(tree, exp.Query):
        return None
    relations = rewrite.catalog_relations(tree)
    if not relations and not rewrite.calls_catalog_functions(tree):
        return None
    names = {n.lower() for n in user_tables}
    for table in tree.find_all(exp.Table):
        qualified = ".".join(p for p in (table.db, table.name) if p).lower()
        if qualified in names or (table.name.lower() in names and not table.db):
            if not relations:
                return None  # the product's tables with a function PostgreSQL has: DuckDB's own
            raise SqlRefused(
                "a query reads either the product's tables or the system catalogs "
                f"(pg_catalog, information_schema), not both: {qualified} and {'.'.join(relations[0])}"
            )
    refuse_writes(tree, rewrite.FUNCTIONS)  # the catalogs' own current_setting is harmless
    rewritten = rewrite.rewrite(tree, set(relation_spec()))
    return CheckedQuery(rewritten.sql, "SELECT", rewritten.param_count, rewritten.array_params)


class SystemCatalog:
    """The emulated catalogs of one set of tables, and the queries that read them."""

    def __init__(
        self,
        tables: Sequence[TableDoc],
        *,
        database: str,
        version: str,
        settings: Mapping[str, str] = {},
    ) -> None:
        self.contents = build(tables, database, sorted(settings.items()))
        self.conn = duckdb.connect()
        try:
            self._create(self.contents, version)
            lock_down(self.conn, [])
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    def _create(self, contents: Contents, version: str) -> None:
        conn = self.conn
        for schema in (*SCHEMAS.values(), rewrite.HELPERS):
            conn.execute(f"CREATE SCHEMA {schema}")
        tables: dict[tuple[str, str], list[tuple[str, str]]] = {
            (SCHEMAS[schema], relation): columns for (schema, relation), columns in relation_spec().items()
        }
        tables |= {(rewrite.HELPERS, name): columns for name, columns in _HELPER_TABLES.items()}
        rows = {(SCHEMAS.get(schema, schema), relation): found for (schema, relation), found in contents.rows.items()}
        rows[(rewrite.HELPERS, "system_relations")] = [
            {"name": name, "oid": oid}
            for relation, oid in SYSTEM_RELATIONS.items()
            for name in (relation, f"pg_catalog.{relation}")
        ]
        for (schema, relation), columns in tables.items():
            self._table(schema, relation, columns, rows.get((schema, relation), []))
        unknown = set(rows) - set(tables)
        if unknown:
            raise ValueError(f"rows for relations the catalogs do not define: {sorted(unknown)}")
        for statement in macros(contents.database, contents.search_path, version):
            conn.execute(statement)

    def _table(self, schema: str, relation: str, columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> None:
        names = {c for c, _ in columns}
        for row in rows:
            extra = set(row) - names
            if extra:
                raise ValueError(f"{schema}.{relation} has no column(s) {sorted(extra)}")
        target = f"{quote_identifier(schema)}.{quote_identifier(relation)}"
        self.conn.execute(f"CREATE TABLE {target} ({', '.join(f'{quote_identifier(c)} {t}' for c, t in columns)})")
        if rows:
            data = pa.table({c: [row.get(c) for row in rows] for c, _ in columns})
            self.conn.register("_rows", data)
            self.conn.execute(f"INSERT INTO {target} SELECT * FROM _rows")
            self.conn.unregister("_rows")


class CatalogCache:
    """The emulated catalogs by what they describe (the tables, and the database name a client connected
    with): a refresh of the views that leaves every table's columns as they were reuses them, so a BI
    tool browsing while a product commits does not rebuild them (about 0.2 s) each time. Thread-safe;
    the least recently used beyond `capacity` is closed (a query still running on it fails: it takes
    more distinct databases or schema changes than `capacity` while it runs)."""

    def __init__(self, version: str, settings: Mapping[str, str], capacity: int = 8) -> None:
        self.version, self.settings, self.capacity = version, dict(settings), capacity
        self._catalogs: dict[tuple[tuple[TableDoc, ...], str], SystemCatalog] = {}
        self._lock = threading.Lock()

    def get(self, tables: Sequence[TableDoc], database: str) -> SystemCatalog:
        key = (tuple(tables), database)
        with self._lock:
            catalog = self._catalogs.pop(key, None)
            if catalog is None:
                catalog = SystemCatalog(tables, database=database, version=self.version, settings=self.settings)
                while len(self._catalogs) >= self.capacity:
                    self._catalogs.pop(next(iter(self._catalogs))).close()
            self._catalogs[key] = catalog  # the most recently used last
            return catalog

    def close(self) -> None:
        with self._lock:
            for catalog in self._catalogs.values():
                catalog.close()
            self._catalogs.clear()
