"""An analytical query through the product's SQL port against DuckDB reading the same Iceberg files
directly, in one run, over a history of 10 million rows.

Product: psycopg 3 over the PostgreSQL wire protocol to `mesh run products/playback.events` (its own
process): the sandboxed engine, the allowlist, the row encoding. Baseline: DuckDB in this process with
the same extensions, `iceberg_scan` of the same metadata file. Target (issue #3): ratio <= 1.5.
Results: bench/results/sql_aggregate.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import psycopg

from bench.common import BENCH_CONSUMER, bench_key, bench_stack, console, product_process, write_results
from mesh_adapters.lakehouse import duckdb_connection, iceberg_catalog, scan_sql
from mesh_config import MeshSettings
from mesh_sdk.spec.column_types import arrow_schema, iceberg_schema
from mesh_sdk.spec.product import load_product
from mesh_sdk.storage.history import ensure_table
from mesh_testing.products import eventually, free_port

ROOT = Path(__file__).resolve().parents[1]
TABLE = "playback.events_history_v1"
QUERY = (
    "SELECT device, event_type, count(*) AS events, avg(position_ms) AS avg_position_ms, "
    "count(DISTINCT customer_id) AS customers, max(occurred_at) AS newest "
    "FROM {table} GROUP BY device, event_type ORDER BY device, event_type"
)


def fill(settings: MeshSettings, rows: int) -> None:
    """Generate the history with DuckDB (fast), write it as Iceberg with pyiceberg, in chunks."""
    product = load_product(ROOT / "products" / "playback.events")
    props = product.contract.properties("history")
    table = ensure_table(iceberg_catalog(settings), TABLE, iceberg_schema(props), "benchmark history")
    duck = duckdb_connection(settings)
    chunk = 2_500_000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        data = (
            duck.execute(f"""
            SELECT uuid()::VARCHAR AS event_id, uuid()::VARCHAR AS session_id,
                   (1 + i % 50000)::BIGINT AS customer_id, (1 + i % 800)::BIGINT AS title_id,
                   (['PLAY','HEARTBEAT','PAUSE','SEEK','STOP'])[1 + i % 5] AS event_type,
                   ((i * 7919) % 21600000)::BIGINT AS position_ms,
                   TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_seconds(i % 2592000) AS occurred_at,
                   (['TV','MOBILE','WEB','TABLET'])[1 + i % 4] AS device,
                   (['NL','DE','FR','US','BR'])[1 + i % 5] AS country,
                   '7.4.1' AS app_version,
                   now()::TIMESTAMPTZ AS ingested_at
            FROM range({start}, {start + n}) t(i)
        """)
            .to_arrow_table()
            .cast(arrow_schema(props))
        )
        table.append(data)
        console.print(f"  wrote {start + n:,} rows")


def timed(run: object, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with bench_stack("bench-sql", 22000) as settings:
        console.print(f"writing {args.rows:,} rows of history ...")
        fill(settings, args.rows)
        sql_port, http_port = free_port(), free_port()
        with product_process(settings, http_port, sql_port):
            dsn = f"postgresql://{BENCH_CONSUMER}:{bench_key(settings)}@127.0.0.1:{sql_port}/playback"
            eventually(lambda: _answers(dsn), attempts=300)
            conn = psycopg.connect(dsn, autocommit=True)
            through_port = QUERY.format(table=TABLE)
            expected = conn.execute(through_port).fetchall()
            port_times = timed(lambda: conn.execute(through_port).fetchall(), args.repeats)
            conn.close()

            duck = duckdb_connection(settings)
            direct = QUERY.format(table=scan_sql(iceberg_catalog(settings).load_table(TABLE)))
            got = duck.execute(direct).to_arrow_table().to_pylist()
            direct_times = timed(lambda: duck.execute(direct).to_arrow_table(), args.repeats)

    assert len(got) == len(expected) == 20, "both paths answer the same groups"
    port_s, direct_s = statistics.median(port_times), statistics.median(direct_times)
    ratio = port_s / direct_s
    console.print(
        f"[bold]SQL port {port_s:.2f} s vs DuckDB directly {direct_s:.2f} s (median of {args.repeats}): "
        f"ratio {ratio:.2f}[/] (target <= 1.5: {'met' if ratio <= 1.5 else 'MISSED'})"
    )
    write_results(
        "sql_aggregate",
        {
            "rows": args.rows,
            "query": QUERY,
            "repeats": args.repeats,
            "sql_port_s": port_times,
            "duckdb_direct_s": direct_times,
            "sql_port_median_s": port_s,
            "duckdb_direct_median_s": direct_s,
            "ratio": ratio,
            "target_ratio": 1.5,
            "target_met": ratio <= 1.5,
        },
    )


def _answers(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


if __name__ == "__main__":
    main()
