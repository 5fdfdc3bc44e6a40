"""The SQL port as analysts' tools reach it: per client, the time to connect and list the tables, and to
read 100k rows, each beside psycopg 3 on the same port in the same run (the ratio); then the ADBC
driver reading 1M rows with binary COPY, beside DuckDB reading the same Iceberg snapshot directly.

The port: the product's SqlEngine (sandbox, allowlist, emulated catalogs) behind the PostgreSQL wire
protocol, in this process, set up as products serve it: SCRAM-SHA-256 logins, TLS offered (so every
libpq client, and ADBC, negotiates TLS as it prefers to; "psycopg 3, no TLS" shows what it costs),
over an Iceberg table written by pyiceberg to a local warehouse (a SQLite
catalog: no servers needed). Each measurement is the median of REPEATS runs. psql and pgJDBC are in the
compatibility suite (tests/unit/test_sql_clients.py) but not here: their process or JVM start would be
most of what is timed. Results: bench/results/sql_clients.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import adbc_driver_postgresql.dbapi as adbc
import duckdb
import pandas as pd
import psycopg
import psycopg2
import pyarrow as pa
import sqlalchemy as sa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table
from rich.table import Table as RichTable

from bench.common import console, write_results
from mesh_access.certificates import server_certificate
from mesh_adapters.lakehouse import duckdb_connection, scan_sql
from mesh_config import load_settings
from mesh_sql import SqlEngine
from mesh_sql.pgcatalog import TableNotes
from mesh_sql.pgwire import Passwords, PgWireServer, TlsIdentity

TABLE = "playback.events_v1"
REPEATS = 3
SMALL = 100_000


def fill(warehouse: Path, rows: int) -> Table:
    """An Iceberg table of `rows` playback-like events, written by pyiceberg."""
    catalog = SqlCatalog("bench", uri=f"sqlite:///{warehouse}/catalog.db", warehouse=f"file://{warehouse}")
    catalog.create_namespace("playback")
    with duckdb.connect() as conn:
        data: pa.Table = conn.execute(
            f"""SELECT i AS event_id, 'title-' || (i % 997) AS title_id, i % 3 = 0 AS completed,
                       TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL 1 SECOND AS started_at,
                       (i % 1000) / 7.0 AS watch_minutes
                FROM range({rows}) r(i)"""
        ).to_arrow_table()
    table = catalog.create_table(TABLE, schema=data.schema)
    table.append(data)
    return table


def median_s(run: Callable[[], Any]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def clients(port: int) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """Per client: (connect and list the tables, read SMALL rows), each the way that client does it."""
    dsn = f"host=127.0.0.1 port={port} user=analyst password=key dbname=playback.events"
    url = f"127.0.0.1:{port}/playback.events"
    query = f"SELECT * FROM {TABLE} WHERE event_id < {SMALL}"
    listing = "SELECT table_schema, table_name FROM information_schema.tables"

    def psycopg3_list() -> None:
        with psycopg.connect(dsn) as conn:
            assert conn.execute(listing).fetchall()

    def psycopg3_read() -> None:
        with psycopg.connect(dsn) as conn:
            assert len(conn.execute(query).fetchall()) == SMALL

    def plain_list() -> None:
        with psycopg.connect(dsn, sslmode="disable") as conn:
            assert conn.execute(listing).fetchall()

    def plain_read() -> None:
        with psycopg.connect(dsn, sslmode="disable") as conn:
            assert len(conn.execute(query).fetchall()) == SMALL

    def psycopg2_list() -> None:
        conn = psycopg2.connect(dsn)
        try:
            cur = conn.cursor()
            cur.execute(listing)
            assert cur.fetchall()
        finally:
            conn.close()

    def psycopg2_read() -> None:
        conn = psycopg2.connect(dsn)
        try:
            cur = conn.cursor()
            cur.execute(query)
            assert len(cur.fetchall()) == SMALL
        finally:
            conn.close()

    def sqlalchemy_list(dialect: str) -> Callable[[], None]:
        def run() -> None:
            engine = sa.create_engine(f"postgresql+{dialect}://analyst:key@{url}")
            try:
                assert sa.inspect(engine).get_table_names(schema="playback")
            finally:
                engine.dispose()

        return run

    def pandas_read(dialect: str) -> Callable[[], None]:
        def run() -> None:
            engine = sa.create_engine(f"postgresql+{dialect}://analyst:key@{url}")
            try:
                assert len(pd.read_sql(query, engine)) == SMALL
            finally:
                engine.dispose()

        return run

    def adbc_list() -> None:
        with adbc.connect(f"postgresql://analyst:key@{url}") as conn:
            assert conn.adbc_get_objects(depth="tables").read_all().num_rows

    def adbc_read() -> None:
        with adbc.connect(f"postgresql://analyst:key@{url}") as conn, conn.cursor() as cur:
            cur.execute(query)
            assert cur.fetch_arrow_table().num_rows == SMALL

    return {
        "psycopg 3": (psycopg3_list, psycopg3_read),
        "psycopg 3, no TLS (sslmode=disable)": (plain_list, plain_read),
        "psycopg 2": (psycopg2_list, psycopg2_read),
        "SQLAlchemy + psycopg2 (inspect, pandas.read_sql)": (sqlalchemy_list("psycopg2"), pandas_read("psycopg2")),
        "SQLAlchemy + psycopg (inspect, pandas.read_sql)": (sqlalchemy_list("psycopg"), pandas_read("psycopg")),
        "ADBC (get_objects, binary COPY to Arrow)": (adbc_list, adbc_read),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the table (ADBC reads them all)")
    args = parser.parse_args()
    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="bench-sql-clients-") as tmp:
        console.print(f"writing {args.rows:,} rows as an Iceberg table ...")
        table = fill(Path(tmp), args.rows)
        relation = scan_sql(table)
        notes = {TABLE: TableNotes(("event_id",), "benchmark events")}

        def connect() -> duckdb.DuckDBPyConnection:
            return duckdb_connection(settings)

        engine = SqlEngine(connect, {TABLE: relation}, max_rows=None, timeout_s=None, notes=notes)
        made = server_certificate(settings.replaced(home=Path(tmp) / "home"))
        served = PgWireServer(
            engine,
            port=0,
            authenticator=Passwords({"analyst": "key"}, engine),
            tls=TlsIdentity(made.certificate, made.key),
        )
        with engine, served as server:
            measured: dict[str, dict[str, float]] = {}
            for name, (listing, reading) in clients(server.port).items():
                console.print(f"{name} ...")
                measured[name] = {"connect_and_list_s": median_s(listing), "read_100k_s": median_s(reading)}
            base = measured["psycopg 3"]
            for figures in measured.values():
                figures["list_ratio"] = figures["connect_and_list_s"] / base["connect_and_list_s"]
                figures["read_ratio"] = figures["read_100k_s"] / base["read_100k_s"]

            console.print(f"ADBC reading all {args.rows:,} rows, and DuckDB reading the snapshot directly ...")

            def adbc_all() -> None:
                url = f"postgresql://analyst:key@127.0.0.1:{server.port}/playback.events"
                with adbc.connect(url) as conn, conn.cursor() as cur:
                    cur.execute(f"SELECT * FROM {TABLE}")
                    assert cur.fetch_arrow_table().num_rows == args.rows

            def duckdb_all() -> None:
                with connect() as conn:
                    assert conn.execute(f"SELECT * FROM {relation}").to_arrow_table().num_rows == args.rows

            adbc_s, duckdb_s = median_s(adbc_all), median_s(duckdb_all)

    show = RichTable(title="The SQL port's clients (medians; ratios against psycopg 3 in this run)")
    for column in ("client", "connect + list (s)", "ratio", f"read {SMALL:,} rows (s)", "ratio"):
        show.add_column(column)
    for name, f in measured.items():
        show.add_row(
            name,
            f"{f['connect_and_list_s']:.3f}",
            f"{f['list_ratio']:.2f}",
            f"{f['read_100k_s']:.3f}",
            f"{f['read_ratio']:.2f}",
        )
    console.print(show)
    bulk = {
        "rows": args.rows,
        "adbc_s": adbc_s,
        "adbc_rows_per_s": args.rows / adbc_s,
        "duckdb_direct_s": duckdb_s,
        "duckdb_direct_rows_per_s": args.rows / duckdb_s,
        "ratio": adbc_s / duckdb_s,
    }
    console.print(
        f"ADBC, {args.rows:,} rows over the port: {bulk['adbc_rows_per_s']:,.0f} rows/s; DuckDB reading the "
        f"snapshot directly: {bulk['duckdb_direct_rows_per_s']:,.0f} rows/s (the port takes {bulk['ratio']:.1f}x)"
    )
    write_results("sql_clients", {"repeats": REPEATS, "baseline": "psycopg 3", "clients": measured, "bulk": bulk})


if __name__ == "__main__":
    main()
