"""The wire protocol's pure parts: how values are printed and parsed, and which statements it answers."""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal

import pyarrow as pa
import pytest

from mesh_sql import SqlRefused
from mesh_sql.pg_types import NUMERIC, pg_type
from mesh_sql.pgwire.commands import local_statement, split_statements
from mesh_sql.pgwire.types import decode_param, encode_binary, encode_text
from mesh_sql.values import column_values


@pytest.mark.parametrize(
    ("value", "duckdb_type", "text"),
    [
        (True, "BOOLEAN", "t"),
        (0.1, "DOUBLE", "0.1"),
        (100.0, "DOUBLE", "100"),
        (1e20, "DOUBLE", "1e+20"),
        (float("-inf"), "DOUBLE", "-Infinity"),
        (0.10000000149011612, "FLOAT", "0.1"),  # a REAL read back as a Python float
        (Decimal("1E+2"), "DECIMAL(10,0)", "100"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 120000), "TIMESTAMP", "2024-01-02 03:04:05.12"),
        (
            dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "TIMESTAMPTZ",
            "2024-01-02 01:04:05+00",
        ),
        (dt.date(99, 1, 2), "DATE", "0099-01-02"),
        (dt.time(1, 2, 3), "TIME", "01:02:03"),
        (
            pa.scalar((14, 3, 3_600_000_000_000), pa.month_day_nano_interval()).as_py(),
            "INTERVAL",
            "1 year 2 mons 3 days 01:00:00",
        ),
        (pa.scalar((0, -1, 3_600_000_000_000), pa.month_day_nano_interval()).as_py(), "INTERVAL", "-1 days +01:00:00"),
        (pa.scalar((0, 0, 0), pa.month_day_nano_interval()).as_py(), "INTERVAL", "00:00:00"),
        (b"\x00\xab", "BLOB", "\\x00ab"),
        (
            ["a b", "", None, "NULL", 'q"t', "back\\slash", "x"],
            "VARCHAR[]",
            '{"a b","",NULL,"NULL","q\\"t","back\\\\slash",x}',
        ),
        ([[1, 2], [3, None]], "INTEGER[][]", "{{1,2},{3,NULL}}"),
        ({"k": 1, "d": Decimal("1.5")}, "STRUCT(k INTEGER, d DECIMAL(2,1))", '{"k": 1, "d": 1.5}'),
        ([("a", 1)], "MAP(VARCHAR, INTEGER)", '{"a": 1}'),
        ("infinity", "DATE", "infinity"),
    ],
)
def test_values_are_printed_as_postgresql_prints_them(value: object, duckdb_type: str, text: str) -> None:
    assert encode_text(value, duckdb_type) == text.encode()


def test_dates_and_timestamps_that_pyarrow_cannot_convert() -> None:
    nanos = pa.array([1_704_164_645_123_456_789, None], pa.timestamp("ns"))
    assert column_values(nanos) == [dt.datetime(2024, 1, 2, 3, 4, 5, 123456), None]
    assert column_values(pa.array([2**31 - 1, -(2**31 - 1), 0], pa.date32())) == [
        "infinity",
        "-infinity",
        dt.date(1970, 1, 1),
    ]


@pytest.mark.parametrize(
    ("duckdb_type", "oid"),
    [
        ("DECIMAL(18,3)", 1700),
        ("TIMESTAMP WITH TIME ZONE", 1184),
        ("TIMESTAMP_NS", 1114),
        ("VARCHAR[]", 1015),
        ("BIGINT[][]", 1016),
        ("STRUCT(a INTEGER)", 114),
        ("STRUCT(a INTEGER)[]", 199),
        ("ENUM('x', 'y')", 25),
        ("UBIGINT", 1700),
        ("GEOMETRY", 25),
    ],
)
def test_duckdb_types_map_to_postgresql_oids(duckdb_type: str, oid: int) -> None:
    assert pg_type(duckdb_type).oid == oid


@pytest.mark.parametrize("value", ["0", "-1.05", "12345678901234567890.125", "0.0001", "100000000", "NaN"])
def test_numeric_binary_round_trips(value: str) -> None:
    encoded = encode_binary(Decimal(value), NUMERIC)
    decoded = decode_param(encoded, 1700, True, 1)
    assert str(decoded) == str(Decimal(value)) or (decoded.is_nan() and value == "NaN")


def test_parameters_are_decoded_by_type_and_format() -> None:
    assert decode_param(b"42", 20, False, 1) == 42
    assert decode_param(b"plain", 0, False, 1) == "plain"  # unknown: a string that DuckDB casts
    assert decode_param(b'{1,NULL,"3"}', 1007, False, 1) == [1, None, 3]
    assert decode_param(b'{"a,b",c}', 1009, False, 1) == ["a,b", "c"]
    assert decode_param(b"2024-01-02 03:04:05+02", 1184, False, 1) == dt.datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))
    )
    binary_array = struct.pack("!iiIii", 1, 1, 20, 2, 1) + struct.pack("!iq", 8, 7) + struct.pack("!i", -1)
    assert decode_param(binary_array, 1016, True, 1) == [7, None]
    with pytest.raises(Exception, match=r"invalid value for parameter \$2"):
        decode_param(b"x", 23, False, 2)


def test_statements_are_split_respecting_quotes_and_comments() -> None:
    sql = "select 'a;b'; /* c; */ select $$d;e$$ -- f;\n; ;"
    assert [s.strip() for s in split_statements(sql)] == ["select 'a;b'", "/* c; */ select $$d;e$$ -- f;"]
    assert split_statements(" ; -- nothing\n") == []


@pytest.mark.parametrize(
    "sql",
    [
        "SET DateStyle = ISO",
        "set client_encoding to 'UTF8'",
        "SET extra_float_digits = 3",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
        "SET TIME ZONE 'UTC'",
        "SET \"TimeZone\" TO 'UTC'",
    ],
)
def test_client_settings_are_accepted_and_ignored(sql: str) -> None:
    statement = local_statement(sql, {})
    assert statement is not None and statement.tag == "SET"


@pytest.mark.parametrize(
    "sql", ["set threads = 4", "SET LOCAL memory_limit = '1GB'", "set enable_external_access=true"]
)
def test_other_settings_are_refused(sql: str) -> None:
    with pytest.raises(SqlRefused, match="is not allowed on the SQL port"):
        local_statement(sql, {})


def test_queries_go_to_duckdb() -> None:
    assert local_statement("select * from events", {}) is None
    assert local_statement("show tables", {}) is None
    transaction = local_statement("-- comment\nBEGIN READ ONLY;", {})
    assert transaction is not None and (transaction.tag, transaction.transaction) == ("BEGIN", "begin")
