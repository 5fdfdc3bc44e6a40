"""The PostgreSQL types the emulated catalog describes: each DuckDB column type shown as the type the
wire protocol sends it as (`mesh_sql.pgwire.types.pg_type`), with what pg_type and
information_schema say about it."""

from __future__ import annotations

from dataclasses import dataclass

from mesh_sql.pg_types import pg_type


@dataclass(frozen=True)
class TypeRow:
    oid: int
    name: str  # pg_type.typname
    length: int  # typlen
    category: str  # typcategory
    array_oid: int
    sql_name: str  # format_type's and information_schema's name
    element: int = 0  # typelem, for arrays
    function: str = ""  # the stem of typinput/typoutput/typreceive/typsend: int4 -> int4recv, date_ -> date_recv

    @property
    def by_value(self) -> bool:
        return 0 < self.length <= 8

    @property
    def align(self) -> str:
        return {1: "c", 2: "s", 4: "i", 8: "d"}.get(self.length, "i")


_SCALARS = [
    TypeRow(16, "bool", 1, "B", 1000, "boolean", function="bool"),
    TypeRow(17, "bytea", -1, "U", 1001, "bytea", function="bytea"),
    TypeRow(18, "char", 1, "Z", 1002, '"char"', function="char"),
    TypeRow(19, "name", 64, "S", 1003, "name", function="name"),
    TypeRow(20, "int8", 8, "N", 1016, "bigint", function="int8"),
    TypeRow(21, "int2", 2, "N", 1005, "smallint", function="int2"),
    TypeRow(23, "int4", 4, "N", 1007, "integer", function="int4"),
    TypeRow(24, "regproc", 4, "N", 1008, "regproc", function="regproc"),
    TypeRow(25, "text", -1, "S", 1009, "text", function="text"),
    TypeRow(26, "oid", 4, "N", 1028, "oid", function="oid"),
    TypeRow(114, "json", -1, "U", 199, "json", function="json_"),
    TypeRow(700, "float4", 4, "N", 1021, "real", function="float4"),
    TypeRow(701, "float8", 8, "N", 1022, "double precision", function="float8"),
    TypeRow(1043, "varchar", -1, "S", 1015, "character varying", function="varchar"),
    TypeRow(1082, "date", 4, "D", 1182, "date", function="date_"),
    TypeRow(1083, "time", 8, "D", 1183, "time without time zone", function="time_"),
    TypeRow(1114, "timestamp", 8, "D", 1115, "timestamp without time zone", function="timestamp_"),
    TypeRow(1184, "timestamptz", 8, "D", 1185, "timestamp with time zone", function="timestamptz_"),
    TypeRow(1186, "interval", 16, "T", 1187, "interval", function="interval_"),
    TypeRow(1700, "numeric", -1, "N", 1231, "numeric", function="numeric_"),
    TypeRow(2205, "regclass", 4, "N", 2210, "regclass", function="regclass"),
    TypeRow(2206, "regtype", 4, "N", 2211, "regtype", function="regtype"),
    TypeRow(2950, "uuid", 16, "U", 2951, "uuid", function="uuid_"),
    TypeRow(3802, "jsonb", -1, "U", 3807, "jsonb", function="jsonb_"),
]
TYPES: dict[int, TypeRow] = {t.oid: t for t in _SCALARS} | {
    t.array_oid: TypeRow(t.array_oid, f"_{t.name}", -1, "A", 0, f"{t.sql_name}[]", element=t.oid, function="array_")
    for t in _SCALARS
}


@dataclass(frozen=True)
class ColumnType:
    """A column's type as PostgreSQL clients see it."""

    oid: int
    modifier: int  # atttypmod: (precision << 16 | scale) + 4 for numeric, else -1

    @property
    def row(self) -> TypeRow:
        return TYPES.get(self.oid, TYPES[25])

    @property
    def dimensions(self) -> int:
        return 1 if self.row.category == "A" else 0

    @property
    def precision(self) -> int | None:
        if self.oid == 1700 and self.modifier >= 4:
            return (self.modifier - 4) >> 16
        return {21: 16, 23: 32, 20: 64, 700: 24, 701: 53}.get(self.oid)

    @property
    def scale(self) -> int | None:
        if self.oid == 1700 and self.modifier >= 4:
            return (self.modifier - 4) & 0xFFFF
        return 0 if self.oid in (20, 21, 23) else None

    @property
    def information_schema_type(self) -> str:
        return "ARRAY" if self.dimensions else self.row.sql_name

    @property
    def datetime_precision(self) -> int | None:
        return 6 if self.oid in (1083, 1114, 1184, 1186) else (0 if self.oid == 1082 else None)


def column_type(duckdb_type: str) -> ColumnType:
    shown = pg_type(duckdb_type)
    return ColumnType(shown.oid, shown.modifier)


def format_type(oid: int | None, modifier: int | None) -> str | None:
    """PostgreSQL's format_type(): how `\\d` and SQLAlchemy name a column's type."""
    if oid is None:
        return None
    row = TYPES.get(oid)
    if row is None:
        return "???"
    if oid == 1700 and modifier is not None and modifier >= 4:
        return f"numeric({(modifier - 4) >> 16},{(modifier - 4) & 0xFFFF})"
    return row.sql_name
