from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_sql import QueryGuard, SqlRefused, SqlSyntaxError


@pytest.fixture(scope="module")
def guard() -> Iterator[QueryGuard]:
    guard = QueryGuard(["playback.events_history_v1", "sessions_v1"])
    yield guard
    guard.close()


@pytest.mark.parametrize(
    ("sql", "kind", "params"),
    [
        ("select * from events_history_v1", "SELECT", 0),
        ("SELECT * FROM playback.events_history_v1 WHERE name = $1 AND id > $2", "SELECT", 2),
        ("select * from memory.playback.events_history_v1 where id = ?", "SELECT", 1),
        ("from sessions_v1", "SELECT", 0),
        ("with recent as (select * from sessions_v1) select count(*) from recent", "SELECT", 0),
        ("select 1 union all select 2 except select 3", "SELECT", 0),
        ("values (1, 'a'), (2, 'b')", "SELECT", 0),
        ("select * from events_history_v1 e join sessions_v1 s using (id) where e.id in (select 1)", "SELECT", 0),
        ("select * from range(10) r(i) cross join unnest([1, 2])", "SELECT", 0),
        ("select list(x) from sessions_v1 -- a comment; drop table x", "SELECT", 0),
        ("select 'a;b', $$c;d$$", "SELECT", 0),
        ("pivot sessions_v1 on id in (1, 2) using count(*)", "SELECT", 0),
        ("describe events_history_v1", "DESCRIBE", 0),
        ("show tables", "SHOW", 0),
    ],
)
def test_reads_of_the_products_tables_are_allowed(guard: QueryGuard, sql: str, kind: str, params: int) -> None:
    checked = guard.check(sql)
    assert (checked.kind, checked.param_count) == (kind, params)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("insert into sessions_v1 values (1)", "only SELECT queries are allowed on the SQL port; got INSERT"),
        ("update sessions_v1 set a = 1", "got UPDATE"),
        ("delete from sessions_v1", "got DELETE"),
        ("create table x as select 1", "got CREATE"),
        ("drop view sessions_v1", "got DROP"),
        ("alter table sessions_v1 add column b int", "got ALTER"),
        ("copy sessions_v1 to '/tmp/out.csv'", "got COPY"),
        ("attach '/tmp/x.db' as x", "got ATTACH"),
        ("detach x", "got DETACH"),
        ("install httpfs", "got INSTALL"),
        ("load httpfs", "got LOAD"),
        ("set enable_external_access = true", "got SET"),
        ("pragma version", "got PRAGMA"),
        ("call pragma_version()", "got CALL"),
        ("export database '/tmp/x'", "got EXPORT"),
        ("import database '/tmp/x'", "got IMPORT"),
        ("checkpoint", "got CHECKPOINT"),
        ("explain select 1", "got EXPLAIN"),
        ("summarize sessions_v1", "got SUMMARIZE"),
        ("select 1; select 2", "one statement at a time on the SQL port; got 2"),
        ("select 1; drop table sessions_v1", "one statement at a time"),
        ("pivot sessions_v1 on id using count(*)", "give PIVOT an explicit IN (...) list"),
        (
            "select * from read_csv('/etc/passwd')",
            "table function read_csv is not allowed: query the product's tables: playback.events_history_v1, "
            "sessions_v1",
        ),
        ("select * from sessions_v1, read_parquet('s3://lakehouse/other/*.parquet')", "table function read_parquet"),
        ("select * from read_json_auto('x.json')", "table function read_json_auto"),
        ("select * from read_text('/etc/passwd')", "table function read_text"),
        ("select * from read_blob('/etc/passwd')", "table function read_blob"),
        ("select * from iceberg_scan('s3://lakehouse/x/metadata/1.json')", "table function iceberg_scan"),
        ("select * from parquet_scan('/tmp/x.parquet')", "table function parquet_scan"),
        ("select * from glob('/*')", "table function glob"),
        ("select * from sqlite_scan('/tmp/x.db', 't')", "table function sqlite_scan"),
        ("select * from postgres_scan('dbname=x', 'public', 't')", "table function postgres_scan"),
        ("select * from query_table('sessions_v1')", "table function query_table"),
        ("select * from duckdb_secrets()", "table function duckdb_secrets"),
        ("select * from sessions_v1 where id in (select id from read_csv('/etc/passwd'))", "table function read_csv"),
        ("select * from '/etc/passwd'", "reading files is not allowed on the SQL port ('/etc/passwd')"),
        ("select (select count(*) from 'data.parquet')", "reading files is not allowed"),
        ("select getenv('HOME')", "function getenv is not allowed on the SQL port"),
        ("select current_setting('s3_secret_access_key')", "function current_setting is not allowed"),
        ("select which_secret('s3://lakehouse/x', 's3')", "function which_secret is not allowed"),
        ("select * from other_product_v1", "table other_product_v1 is not a table of this product"),
        ("select * from main.events_history_v1", "table main.events_history_v1 is not a table of this product"),
        ("select * from sessions_v1 where a = $name", "named parameters are not supported"),
    ],
)
def test_everything_else_is_refused_with_a_clear_message(guard: QueryGuard, sql: str, message: str) -> None:
    with pytest.raises(SqlRefused) as refused:
        guard.check(sql)
    assert message in str(refused.value)
    assert refused.value.sqlstate == "42501"


@pytest.mark.parametrize("sql", ["", "   ", ";", "-- nothing"])
def test_an_empty_query_is_a_syntax_error_not_a_refusal(guard: QueryGuard, sql: str) -> None:
    """The REST port answers a syntax error with 400 and a refusal with 403: an empty query is the former."""
    with pytest.raises(SqlSyntaxError, match="the query is empty"):
        guard.check(sql)


def test_a_syntax_error_is_reported_as_one() -> None:
    guard = QueryGuard(["t"])
    try:
        with pytest.raises(SqlSyntaxError) as error:
            guard.check("selec * from t")
        assert error.value.sqlstate == "42601"
        assert "syntax error" in str(error.value)
    finally:
        guard.close()


def test_parsing_reads_no_file(tmp_path: Path) -> None:
    """DuckDB's parser runs IMPORT DATABASE's schema.sql while parsing; the guard parses in a sandbox."""
    export = tmp_path
    (export / "schema.sql").write_text("select 'read while parsing';")
    (export / "load.sql").write_text("")
    guard = QueryGuard(["t"])
    try:
        with pytest.raises(SqlRefused, match="got IMPORT"):
            guard.check(f"import database '{export}'")
    finally:
        guard.close()


def test_duckdbs_own_catalogs_are_refused() -> None:
    """The emulated catalogs answer queries that read only them (tests/unit/test_sql_clients.py); what
    reaches the allowlist names DuckDB's, which show the engine rather than the product."""
    guard = QueryGuard(["playback.events_history_v1"])
    try:
        for sql in (
            "SELECT table_schema, table_name FROM information_schema.tables",
            "SELECT * FROM events_history_v1, pg_catalog.pg_class",
            "SELECT typname FROM pg_type",
        ):
            with pytest.raises(SqlRefused, match="not both"):
                guard.check(sql)
    finally:
        guard.close()
