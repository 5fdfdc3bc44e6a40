"""The SQL port's system catalogs, read by the clients analysts' tools are built on: psql and its
meta-commands, psycopg 2 and 3, SQLAlchemy 2 with both PostgreSQL dialects (inspect() and pandas),
the ADBC PostgreSQL driver (binary COPY), pgJDBC's DatabaseMetaData (a small Java program).
Each must find exactly the product's tables, in the schema a query names them by, with their
columns, types and primary keys; and what it reads must be what a query reads. Each logs in as the
SQL port asks, with SCRAM-SHA-256, and those that prefer TLS (libpq's default) get it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import adbc_driver_postgresql.dbapi as adbc
import duckdb
import pandas as pd
import psycopg
import psycopg2
import pytest
import sqlalchemy as sa

from mesh_access.certificates import ServerCertificate, server_certificate
from mesh_config import load_settings
from mesh_sql import SqlEngine
from mesh_sql.pgcatalog import TableNotes
from mesh_sql.pgwire import Passwords, PgWireServer, TlsIdentity
from mesh_stack.java import JvmArtifact, find_java

ROWS = 50


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lake") / "events.parquet"
    with duckdb.connect() as conn:
        conn.execute(
            f"""COPY (SELECT i AS event_id, 'title-' || (i % 7) AS title_id, i % 3 = 0 AS completed,
                       TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL 1 MINUTE AS started_at,
                       (i / 4)::DECIMAL(10, 2) AS watch_minutes
                FROM range({ROWS}) r(i)) TO '{path}' (FORMAT parquet)"""
        )
    return path


@pytest.fixture(scope="module")
def mesh_certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    return server_certificate(load_settings(home=tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="module")
def sql_port(events_file: Path, mesh_certificate: ServerCertificate) -> Iterator[PgWireServer]:
    """A SQL port serving a product's table and a second one, as a source-aligned product names them."""
    views = {
        "playback.events_v1": f"read_parquet('{events_file}')",
        "playback.events_v1_snapshots": "(SELECT 1 AS snapshot_id)",
    }
    notes = {"playback.events_v1": TableNotes(("event_id",), "Every playback event", {"title_id": "The title played"})}
    with (
        SqlEngine(duckdb.connect, views, notes=notes, database="playback.events") as engine,
        PgWireServer(
            engine,
            port=0,
            authenticator=Passwords({"analyst": "key"}, engine),
            tls=TlsIdentity(mesh_certificate.certificate, mesh_certificate.key),
        ) as server,
    ):
        yield server


def url(server: PgWireServer, dialect: str) -> str:
    return f"postgresql+{dialect}://analyst:key@127.0.0.1:{server.port}/playback.events"


def psql(server: PgWireServer, *commands: str) -> str:
    args = ["psql", "-X", "-h", "127.0.0.1", "-p", str(server.port), "-U", "analyst", "-d", "playback.events"]
    for command in commands:
        args += ["-c", command]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env={**os.environ, "PGPASSWORD": "key"})
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout


# --- psql ---------------------------------------------------------------------------------------------


def test_psql_lists_the_database_the_schema_and_the_tables(sql_port: PgWireServer) -> None:
    databases = psql(sql_port, r"\l")
    assert "playback.events" in databases and "UTF8" in databases
    schemas = psql(sql_port, r"\dn")
    assert "playback" in schemas and "main" not in schemas and "pg_catalog" not in schemas
    tables = psql(sql_port, r"\dt")
    assert "events_v1 " in tables and "events_v1_snapshots" in tables and "(2 rows)" in tables
    assert psql(sql_port, r"\dt playback.*") == tables


def test_psql_describes_a_table_with_its_columns_and_primary_key(sql_port: PgWireServer) -> None:
    described = psql(sql_port, r"\d playback.events_v1")
    assert 'Table "playback.events_v1"' in described
    for column, kind in [
        ("event_id", "bigint"),
        ("title_id", "character varying"),
        ("completed", "boolean"),
        ("started_at", "timestamp with time zone"),
        ("watch_minutes", "numeric(10,2)"),
    ]:
        assert any(line.split("|")[0].strip() == column and kind in line for line in described.splitlines())
    assert '"events_v1_pkey" PRIMARY KEY' in described
    detailed = psql(sql_port, r"\d+ playback.events_v1")
    assert "The title played" in detailed
    assert "Every playback event" in psql(sql_port, r"\dt+ playback.events_v1")


def test_psql_expanded_display_reads_rows(sql_port: PgWireServer) -> None:
    shown = psql(sql_port, r"\x", "select event_id, title_id from playback.events_v1 where event_id = 8")
    assert "event_id | 8" in shown and "title_id | title-1" in shown


# --- SQLAlchemy, both dialects, and pandas -----------------------------------------------------------


@pytest.mark.parametrize("dialect", ["psycopg2", "psycopg"])
def test_sqlalchemy_inspects_schemas_tables_columns_and_primary_keys(sql_port: PgWireServer, dialect: str) -> None:
    engine = sa.create_engine(url(sql_port, dialect))
    try:
        inspector = sa.inspect(engine)
        assert [s for s in inspector.get_schema_names() if s != "information_schema"] == ["playback"]
        assert sorted(inspector.get_table_names(schema="playback")) == ["events_v1", "events_v1_snapshots"]
        columns = {c["name"]: c for c in inspector.get_columns("events_v1", schema="playback")}
        assert list(columns) == ["event_id", "title_id", "completed", "started_at", "watch_minutes"]
        assert isinstance(columns["event_id"]["type"], sa.BigInteger) and not columns["event_id"]["nullable"]
        assert isinstance(columns["started_at"]["type"], sa.TIMESTAMP) and columns["started_at"]["type"].timezone
        amount = columns["watch_minutes"]["type"]
        assert isinstance(amount, sa.Numeric) and (amount.precision, amount.scale) == (10, 2)
        assert columns["title_id"]["comment"] == "The title played"
        assert inspector.get_pk_constraint("events_v1", schema="playback")["constrained_columns"] == ["event_id"]
        assert inspector.get_table_comment("events_v1", schema="playback")["text"] == "Every playback event"
        reflected = sa.Table("events_v1", sa.MetaData(), schema="playback", autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(reflected).order_by(reflected.c.event_id).limit(3)).all()
        assert [r.event_id for r in rows] == [0, 1, 2]
    finally:
        engine.dispose()


@pytest.mark.parametrize("dialect", ["psycopg2", "psycopg"])
def test_pandas_reads_a_query_and_a_whole_table(sql_port: PgWireServer, dialect: str) -> None:
    engine = sa.create_engine(url(sql_port, dialect))
    try:
        frame = pd.read_sql("select event_id, watch_minutes from playback.events_v1 order by event_id", engine)
        assert len(frame) == ROWS and frame["event_id"].tolist() == list(range(ROWS))
        table = pd.read_sql_table("events_v1", engine, schema="playback")
        assert table.shape == (ROWS, 5)
    finally:
        engine.dispose()


# --- psycopg 2 and 3 ----------------------------------------------------------------------------------


def test_psycopg2_reads_with_parameters_and_the_catalogs(sql_port: PgWireServer) -> None:
    conn = psycopg2.connect(host="127.0.0.1", port=sql_port.port, user="analyst", password="key", dbname="x")
    try:
        assert conn.info.ssl_in_use  # libpq prefers TLS, and the port offers it
        cur = conn.cursor()
        cur.execute("select title_id from playback.events_v1 where event_id = %s", (9,))
        assert cur.fetchall() == [("title-2",)]
        cur.execute(
            "select table_schema, table_name from information_schema.tables where table_schema = %s order by 2",
            ("playback",),
        )
        assert cur.fetchall() == [("playback", "events_v1"), ("playback", "events_v1_snapshots")]
    finally:
        conn.close()


def test_the_catalogs_name_the_schema_a_query_must_use(sql_port: PgWireServer) -> None:
    """A BI tool browses information_schema, then queries what it found by that schema and name."""
    with psycopg.connect(
        host="127.0.0.1", port=sql_port.port, user="analyst", password="key", dbname="x", autocommit=True
    ) as conn:
        listed = conn.execute(
            "select table_schema, table_name from information_schema.tables order by table_name"
        ).fetchall()
        assert listed == [("playback", "events_v1"), ("playback", "events_v1_snapshots")]
        for schema, table in listed:
            assert conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone() is not None
        columns = conn.execute(
            "select column_name, data_type, is_nullable from information_schema.columns "
            "where table_name = 'events_v1' order by ordinal_position"
        ).fetchall()
        assert columns == [
            ("event_id", "bigint", "NO"),
            ("title_id", "character varying", "YES"),
            ("completed", "boolean", "YES"),
            ("started_at", "timestamp with time zone", "YES"),
            ("watch_minutes", "numeric", "YES"),
        ]


def test_a_bi_tools_session_preamble_succeeds(sql_port: PgWireServer) -> None:
    with psycopg.connect(
        host="127.0.0.1", port=sql_port.port, user="analyst", password="key", dbname="x", autocommit=True
    ) as conn:
        assert conn.execute("show transaction isolation level").fetchone() == ("read committed",)
        assert conn.execute("select current_schema()").fetchone() == ("playback",)
        assert conn.execute("select set_config('application_name', 'bi', false)").fetchone() == ("bi",)
        assert str(conn.execute("select version()").fetchone()[0]).startswith("PostgreSQL")  # type: ignore[index]
        names = conn.execute("select typname from pg_catalog.pg_type where oid in (20, 25, 1184) order by oid")
        assert names.fetchall() == [("int8",), ("text",), ("timestamptz",)]


def test_a_query_reading_the_catalogs_and_the_tables_together_is_refused(sql_port: PgWireServer) -> None:
    with psycopg.connect(
        host="127.0.0.1", port=sql_port.port, user="analyst", password="key", dbname="x", autocommit=True
    ) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not both"):
            conn.execute("select * from playback.events_v1, pg_catalog.pg_class")
        with pytest.raises(psycopg.errors.UndefinedTable, match=r"pg_catalog\.pg_stat_activity"):
            conn.execute("select * from pg_stat_activity")


# --- COPY: ADBC's binary reads, psql's \copy ------------------------------------------------------------


def test_adbc_discovers_the_tables_and_reads_them_with_binary_copy(sql_port: PgWireServer) -> None:
    with adbc.connect(f"postgresql://analyst:key@127.0.0.1:{sql_port.port}/playback.events") as conn:
        objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
        assert [o["catalog_name"] for o in objects] == ["playback.events"]
        schemas = {s["db_schema_name"]: s["db_schema_tables"] for s in objects[0]["catalog_db_schemas"]}
        assert list(schemas) == ["playback"]
        tables = {
            t["table_name"]: [c["column_name"] for c in sorted(t["table_columns"], key=lambda c: c["ordinal_position"])]
            for t in schemas["playback"]
        }
        assert tables["events_v1"] == ["event_id", "title_id", "completed", "started_at", "watch_minutes"]
        schema = conn.adbc_get_table_schema("events_v1", db_schema_filter="playback")
        assert schema.names == tables["events_v1"]
        cur = conn.cursor()
        cur.execute("select event_id, title_id, completed, started_at from playback.events_v1 order by event_id")
        read = cur.fetch_arrow_table()
        cur.close()
    assert read.num_rows == ROWS
    assert read.column("event_id").to_pylist() == list(range(ROWS))
    assert read.column("title_id").to_pylist()[:3] == ["title-0", "title-1", "title-2"]
    assert str(read.schema.field("started_at").type) == "timestamp[us, tz=UTC]"


def test_psql_copies_a_query_out_as_csv_and_as_text(sql_port: PgWireServer) -> None:
    query = "select event_id, title_id, null as nothing from playback.events_v1 where event_id < 2 order by 1"
    assert psql(sql_port, rf"\copy ({query}) to stdout with (format csv, header)") == (
        "event_id,title_id,nothing\n0,title-0,\n1,title-1,\n"
    )
    assert psql(sql_port, rf"\copy ({query}) to stdout") == "0\ttitle-0\t\\N\n1\ttitle-1\t\\N\n"


# --- pgJDBC -------------------------------------------------------------------------------------------

JDBC_PROGRAM = Path(__file__).resolve().parents[1] / "interop" / "JdbcMetadata.java"


@pytest.fixture(scope="module")
def pgjdbc(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The java command line that runs JdbcMetadata.java with pgJDBC from Maven Central."""
    settings = load_settings()
    jars = JvmArtifact("pgjdbc").resolve(settings.cache_dir, tmp_path_factory.mktemp("maven") / "maven.log") / "lib"
    classpath = ":".join(str(jar) for jar in sorted(jars.glob("*.jar")))
    return [str(find_java(settings.java_home)), "-cp", classpath, str(JDBC_PROGRAM)]


def test_pgjdbc_database_metadata_finds_the_tables_columns_and_keys(
    sql_port: PgWireServer, pgjdbc: list[str], mesh_certificate: ServerCertificate
) -> None:
    # verified TLS, and SCRAM bound to the certificate: pgJDBC's own SCRAM client, not libpq's
    url = (
        f"jdbc:postgresql://127.0.0.1:{sql_port.port}/playback.events?sslmode=verify-full"
        f"&sslrootcert={mesh_certificate.authority}&channelBinding=require"
    )
    query = "select event_id, title_id from playback.events_v1 where event_id < 2 order by event_id"
    done = subprocess.run(
        [*pgjdbc, url, "analyst", "key", "playback", query], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, list[list[str]]] = {}
    for line in done.stdout.splitlines():
        kind, *values = line.split("\t")
        found.setdefault(kind, []).append(values)
    assert found["product"][0][0] == "PostgreSQL"
    assert "playback" in [s[0] for s in found["schema"]] and "main" not in [s[0] for s in found["schema"]]
    assert found["table"] == [
        ["playback", "events_v1", "TABLE", "Every playback event"],
        ["playback", "events_v1_snapshots", "TABLE", "null"],
    ]
    columns = [c for c in found["column"] if c[0] == "events_v1"]
    assert columns == [
        ["events_v1", "event_id", "int8", "1", "NO"],
        ["events_v1", "title_id", "varchar", "2", "YES"],
        ["events_v1", "completed", "bool", "3", "YES"],
        ["events_v1", "started_at", "timestamptz", "4", "YES"],
        ["events_v1", "watch_minutes", "numeric", "5", "YES"],
    ]
    assert found["key"] == [["events_v1", "event_id", "1"]]
    assert found["row"] == [["0", "title-0"], ["1", "title-1"]]
