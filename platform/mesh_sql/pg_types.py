"""DuckDB column types as the PostgreSQL types clients are shown (type OIDs, sizes, modifiers): what
the wire protocol sends and what the emulated system catalogs describe."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PgType:
    oid: int
    size: int  # typlen: -1 for variable length
    array_oid: int
    modifier: int = -1


BOOL = PgType(16, 1, 1000)
INT2 = PgType(21, 2, 1005)
INT4 = PgType(23, 4, 1007)
INT8 = PgType(20, 8, 1016)
FLOAT4 = PgType(700, 4, 1021)
FLOAT8 = PgType(701, 8, 1022)
NUMERIC = PgType(1700, -1, 1231)
TEXT = PgType(25, -1, 1009)
# DuckDB's VARCHAR has no length, as PostgreSQL's varchar without one: shown as varchar, not text.
VARCHAR = PgType(1043, -1, 1015)
BYTEA = PgType(17, -1, 1001)
DATE = PgType(1082, 4, 1182)
TIME = PgType(1083, 8, 1183)
TIMESTAMP = PgType(1114, 8, 1115)
TIMESTAMPTZ = PgType(1184, 8, 1185)
INTERVAL = PgType(1186, 16, 1187)
UUID = PgType(2950, 16, 2951)
JSON = PgType(114, -1, 199)

_SCALARS = {
    "BOOLEAN": BOOL,
    "TINYINT": INT2,
    "UTINYINT": INT2,
    "SMALLINT": INT2,
    "USMALLINT": INT4,
    "INTEGER": INT4,
    "UINTEGER": INT8,
    "BIGINT": INT8,
    "UBIGINT": NUMERIC,
    "HUGEINT": NUMERIC,
    "UHUGEINT": NUMERIC,
    "FLOAT": FLOAT4,
    "DOUBLE": FLOAT8,
    "VARCHAR": VARCHAR,
    "BLOB": BYTEA,
    "DATE": DATE,
    "TIME": TIME,
    "TIMESTAMP": TIMESTAMP,
    "TIMESTAMP_S": TIMESTAMP,
    "TIMESTAMP_MS": TIMESTAMP,
    "TIMESTAMP_NS": TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": TIMESTAMPTZ,
    "INTERVAL": INTERVAL,
    "UUID": UUID,
    "JSON": JSON,
}
ARRAY_ELEMENT = {t.array_oid: t.oid for t in _SCALARS.values()} | {1009: 25, 1015: 1043, 3807: 3802}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
ARRAY_TYPE = re.compile(r"^(.*)\[\d*\]$", re.S)


def pg_type(duckdb_type: str) -> PgType:
    """The PostgreSQL type a DuckDB column is shown as; unknown types are shown as text."""
    kind = duckdb_type.strip().upper()
    element = ARRAY_TYPE.match(kind)
    if element:
        inner = pg_type(element.group(1))
        # PostgreSQL arrays are multi-dimensional with one type: a list of lists keeps the array OID.
        oid = inner.oid if inner.oid in ARRAY_ELEMENT else inner.array_oid
        return PgType(oid, -1, oid)
    decimal = _DECIMAL.fullmatch(kind)
    if decimal:
        precision, scale = int(decimal.group(1)), int(decimal.group(2))
        return PgType(NUMERIC.oid, -1, NUMERIC.array_oid, ((precision << 16) | scale) + 4)
    if kind.startswith(("STRUCT", "MAP")):
        return JSON
    return _SCALARS.get(kind, TEXT)
