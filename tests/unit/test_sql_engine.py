from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from mesh_sql import Cancellation, Column, SqlCanceled, SqlEngine, SqlError, SqlRefused, SqlTimeout
from mesh_sql.sandbox import storage_prefixes

# 1000 rows: a four-way cross join is 10^12 rows, far longer than any time limit here.
SLOW = "select count(*) from events a, events b, events c, events d"


def write_events(path: Path, rows: int = 1000, offset: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as conn:
        conn.execute(
            f"""COPY (SELECT i + {offset} AS id, 'name-' || i AS name, (i * 1.25)::DECIMAL(10, 2) AS amount,
                       TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) MINUTE AS seen_at, i % 2 = 0 AS even
                FROM range({rows}) r(i)) TO '{path}' (FORMAT parquet)"""
        )
    return path


def relation(path: Path) -> str:
    return f"read_parquet('{path}')"


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_events(tmp_path_factory.mktemp("lake") / "playback" / "events" / "data.parquet")


@pytest.fixture(scope="module")
def engine(events_file: Path) -> Iterator[SqlEngine]:
    with SqlEngine(duckdb.connect, {"playback.events": relation(events_file)}, timeout_s=5, max_rows=100) as engine:
        yield engine


def test_a_query_returns_columns_duckdb_types_and_rows(engine: SqlEngine) -> None:
    result = engine.execute(
        "select id, name, amount, seen_at, even from events where name = $1 or id = $2", ["name-3", 4]
    )
    assert result.columns == (
        Column("id", "BIGINT"),
        Column("name", "VARCHAR"),
        Column("amount", "DECIMAL(10,2)"),
        Column("seen_at", "TIMESTAMP"),
        Column("even", "BOOLEAN"),
    )
    assert result.rows() == [
        (3, "name-3", Decimal("3.75"), dt.datetime(2024, 1, 1, 0, 3), False),
        (4, "name-4", Decimal("5.00"), dt.datetime(2024, 1, 1, 0, 4), True),
    ]
    assert result.table.column_names == ["id", "name", "amount", "seen_at", "even"]
    assert not result.truncated


def test_string_parameters_are_cast_by_duckdb_like_untyped_literals(engine: SqlEngine) -> None:
    assert engine.execute("select name from events where id = ?", ["7"]).rows() == [("name-7",)]
    assert engine.execute("select count(*) from events where seen_at < $1", ["2024-01-01 00:10:00"]).rows() == [(10,)]


def test_views_answer_to_qualified_and_unqualified_names(engine: SqlEngine) -> None:
    assert engine.execute("select count(*) from playback.events").rows() == [(1000,)]
    assert engine.execute("select count(*) from events").rows() == [(1000,)]


def test_the_row_limit_cuts_the_result_and_says_so(engine: SqlEngine) -> None:
    cut = engine.execute("select id from events order by id")
    assert (cut.row_count, cut.truncated, cut.row_limit) == (100, True, 100)
    assert engine.execute("select id from events", max_rows=5).row_count == 5
    whole = engine.execute("select id from events limit 100")
    assert (whole.row_count, whole.truncated) == (100, False)


def test_a_slow_query_is_interrupted_at_the_time_limit(engine: SqlEngine) -> None:
    started = time.monotonic()
    with pytest.raises(SqlTimeout) as timeout:
        engine.execute(SLOW, timeout_s=0.3)
    assert time.monotonic() - started < 3
    assert timeout.value.sqlstate == "57014"
    assert "statement timeout" in str(timeout.value)
    assert engine.execute("select 1").rows() == [(1,)]


def test_a_running_query_is_canceled_from_another_thread(engine: SqlEngine) -> None:
    cancellation = Cancellation()
    timer = threading.Timer(0.2, cancellation.cancel)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(SqlCanceled, match="user request"):
            engine.execute(SLOW, cancellation=cancellation)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 3
    assert not cancellation.cancel()  # nothing runs any more


def test_describe_gives_the_columns_without_running_the_query(engine: SqlEngine) -> None:
    started = time.monotonic()
    assert engine.describe(SLOW + " where a.name = $1") == (Column("count_star()", "BIGINT"),)
    assert time.monotonic() - started < 1


def test_errors_are_clear_and_carry_sqlstates(engine: SqlEngine) -> None:
    cases = {
        "selec 1": "42601",
        "select nope from events": "42703",
        "select 'x'::integer": "22P02",
        "insert into events values (1)": "42501",
    }
    for sql, sqlstate in cases.items():
        with pytest.raises(SqlError) as error:
            engine.execute(sql)
        assert error.value.sqlstate == sqlstate, (sql, error.value)
    with pytest.raises(SqlError, match="1 parameter") as wrong:
        engine.execute("select $1")
    assert wrong.value.sqlstate == "08P01"


def test_types_arrow_cannot_carry_arrive_as_text(engine: SqlEngine) -> None:
    result = engine.execute("select timetz '12:00:00+02' as t, 1::hugeint as h, [1, 2] as l")
    assert [c.type for c in result.columns] == ["VARCHAR", "HUGEINT", "INTEGER[]"]
    assert result.rows() == [("12:00:00+02", Decimal(1), [1, 2])]


def test_concurrent_queries_from_many_threads(engine: SqlEngine) -> None:
    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(lambda i: engine.execute("select count(*) from events where id < $1", [i]), range(32)))
    assert [c.rows()[0][0] for c in counts] == list(range(32))


def test_refresh_swaps_the_views_without_breaking_queries_in_flight(tmp_path: Path) -> None:
    first = write_events(tmp_path / "t" / "v1.parquet", rows=1000)
    second = write_events(tmp_path / "t" / "v2.parquet", rows=10, offset=5000)
    with SqlEngine(duckdb.connect, {"events": relation(first)}, timeout_s=30) as engine:
        old = engine._current
        assert old is not None
        cancellation = Cancellation()
        outcome: list[BaseException] = []

        def in_flight() -> None:
            try:
                engine.execute(SLOW, cancellation=cancellation)
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=in_flight)
        worker.start()
        deadline = time.monotonic() + 10
        while old.users == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        engine.refresh({"events": relation(second)})
        assert engine.execute("select min(id), count(*) from events").rows() == [(5000, 10)]
        assert old.retired and old.users == 1  # still serving the query that started on it

        cancellation.cancel()
        worker.join(10)
        assert len(outcome) == 1 and isinstance(outcome[0], SqlCanceled)  # interrupted, not broken
        assert old.users == 0
        with pytest.raises(duckdb.ConnectionException):
            old.conn.execute("select 1")  # closed once its last query ended


def test_a_failed_refresh_keeps_the_views_in_service(tmp_path: Path) -> None:
    path = write_events(tmp_path / "t" / "v1.parquet", rows=3)
    with SqlEngine(duckdb.connect, {"events": relation(path)}) as engine:
        with pytest.raises(SqlError, match="could not create the view events"):
            engine.refresh({"events": relation(tmp_path / "missing.parquet")})
        assert engine.execute("select count(*) from events").rows() == [(3,)]


def test_duckdbs_sandbox_holds_even_without_the_guard(engine: SqlEngine, events_file: Path, tmp_path: Path) -> None:
    outside = write_events(tmp_path / "elsewhere.parquet", rows=1)
    generation = engine._current  # bypassing the allowlist on purpose: this is the second wall
    assert generation is not None
    cursor = generation.conn.cursor()
    try:
        assert cursor.execute(f"select count(*) from read_parquet('{events_file}')").fetchall() == [(1000,)]
        refused = [
            "select * from read_csv('/etc/passwd')",
            f"select * from read_parquet('{outside}')",
            f"select * from read_parquet('{events_file.parent}/../../{outside.name}')",
            f"copy (select 1) to '{tmp_path / 'out.csv'}'",
            f"attach '{tmp_path / 'x.db'}'",
            "install httpfs",
        ]
        for sql in refused:
            with pytest.raises(duckdb.PermissionException):
                cursor.execute(sql)
        for sql in ("set enable_external_access = true", "reset allowed_directories", "set lock_configuration = false"):
            with pytest.raises(duckdb.InvalidInputException, match="locked"):
                cursor.execute(sql)
        with pytest.raises(duckdb.Error):
            cursor.execute("load httpfs")
    finally:
        cursor.close()
    assert not (tmp_path / "out.csv").exists()


def test_only_the_directories_of_the_views_stay_readable() -> None:
    assert storage_prefixes(
        [
            "iceberg_scan('s3://lakehouse/playback/events_history_v1/metadata/00003-x.metadata.json')",
            "read_parquet('s3://lakehouse/content/titles_v1/data/*.parquet')",
            "read_parquet('/srv/lake/./a/../b/file.parquet')",
            "range(10)",
        ]
    ) == [
        "/srv/lake/b/",
        "s3://lakehouse/content/titles_v1/data/",
        "s3://lakehouse/playback/events_history_v1/",
    ]


def test_a_refused_query_never_reaches_duckdb(engine: SqlEngine) -> None:
    with pytest.raises(SqlRefused, match="table function read_csv is not allowed: query the product's tables"):
        engine.execute("select * from read_csv('/etc/passwd')")
