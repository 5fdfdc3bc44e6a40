"""What snapshot retention and compaction cost and save, on a private stack (S3 and the SQL catalog).

1. A commit's time against the number of snapshots the table keeps (its manifests compacted first, so
   only the snapshot list grows): why the recent window is capped by count. Baseline: the same commit
   with the fewest snapshots, in the same run.
2. The same micro-batches written twice, to tables made as products make theirs and with the
   platform's upkeep, once without compaction and once with it: data files and manifests the current
   snapshot lists, the size of its metadata file, the objects in storage (old metadata files deleted
   after each commit, expired snapshots' files not), and a full count through DuckDB. Baseline: the
   table without compaction.

Results: bench/results/retention.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

from bench.common import bench_stack, console, write_results
from mesh_adapters.lakehouse import duckdb_connection, iceberg_catalog, scan_sql
from mesh_adapters.s3 import s3_client
from mesh_config import MeshSettings
from mesh_sdk.storage.history import append_with_offsets, ensure_table
from mesh_sdk.storage.maintenance import CompactionPolicy, Upkeep, compact
from mesh_sdk.storage.retention import RetentionPolicy

SCHEMA = Schema(
    NestedField(1, "event_id", StringType(), required=True),
    NestedField(2, "customer_id", LongType(), required=True),
    NestedField(3, "event_type", StringType(), required=True),
    NestedField(4, "occurred_at", TimestamptzType(), required=True),
)
OFFSETS = {"playback.telemetry.raw.v1": dict.fromkeys(range(3), 123_456)}


def _batch(rows: int, n: int) -> pa.Table:
    now = datetime.now(UTC)
    events = [
        {"event_id": uuid.uuid4().hex, "customer_id": (n * rows + i) % 300, "event_type": "PLAY", "occurred_at": now}
        for i in range(rows)
    ]
    return pa.Table.from_pylist(events, schema=SCHEMA.as_arrow())


def _commit(table: Table, rows: int, n: int) -> float:
    started = time.perf_counter()
    append_with_offsets(table, _batch(rows, n), OFFSETS, f"2026-01-01T00:00:00.{n:06d}+00:00")
    return time.perf_counter() - started


def commit_cost(settings: MeshSettings, kept: list[int], repeats: int) -> list[dict[str, Any]]:
    table = ensure_table(iceberg_catalog(settings), f"playback.bench_cost_{uuid.uuid4().hex[:8]}_v1", SCHEMA, "bench")
    out, n = [], 0
    for target in kept:
        while len(table.metadata.snapshots) < target - 1:
            _commit(table, 10, n)
            n += 1
        compact(table, small_file_bytes=None, min_files=2)  # two manifests left: only the snapshots grow
        times = []
        for _ in range(repeats):
            times.append(_commit(table, 10, n))
            n += 1
        metadata = table.io.new_input(table.metadata_location)
        out.append(
            {
                "snapshots": len(table.metadata.snapshots),
                "commit_median_s": statistics.median(times),
                "metadata_bytes": len(metadata.open().read()),
            }
        )
        console.print(f"  {out[-1]['snapshots']:>5} snapshots: commit {out[-1]['commit_median_s'] * 1000:.0f} ms")
    return out


def _storage(settings: MeshSettings, table: Table) -> dict[str, int]:
    bucket, _, prefix = table.location().removeprefix("s3://").partition("/")
    s3 = s3_client(settings)
    counts = {"data_objects": 0, "data_bytes": 0, "metadata_objects": 0, "metadata_bytes": 0}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            kind = "data" if "/data/" in obj["Key"] else "metadata"
            counts[f"{kind}_objects"] += 1
            counts[f"{kind}_bytes"] += obj["Size"]
    return counts


def written_twice(settings: MeshSettings, batches: int, rows: int, every: int) -> dict[str, Any]:
    catalog = iceberg_catalog(settings)
    results: dict[str, Any] = {}
    for label, compacting in (("without_compaction", False), ("with_compaction", True)):
        table = ensure_table(catalog, f"playback.bench_{label}_{uuid.uuid4().hex[:8]}_v1", SCHEMA, "bench")
        clock = [time.time()]
        upkeep = Upkeep(
            RetentionPolicy(),
            CompactionPolicy(every_s=every if compacting else 0, min_files=16),
            clock=lambda clock=clock: clock[0],  # type: ignore[misc]
        )
        commit_s, upkeep_s = 0.0, 0.0
        for n in range(batches):
            commit_s += _commit(table, rows, n)
            clock[0] += 1.0  # one batch a second, as the clock of the upkeep sees it
            started = time.perf_counter()
            upkeep.after_commit(table)
            upkeep_s += time.perf_counter() - started
        current = table.current_snapshot()
        assert current is not None and current.summary is not None
        duck = duckdb_connection(settings)
        counts = []
        for _ in range(5):
            started = time.perf_counter()
            counted = duck.execute(f"SELECT count(*) FROM {scan_sql(table)}").fetchone()
            counts.append(time.perf_counter() - started)
        assert counted is not None and counted[0] == batches * rows
        results[label] = {
            "data_files": int(current.summary["total-data-files"] or 0),
            "manifests": len(current.manifests(table.io)),
            "snapshots": len(table.metadata.snapshots),
            "metadata_json_bytes": len(table.io.new_input(table.metadata_location).open().read()),
            "commit_s_total": commit_s,
            "upkeep_s_total": upkeep_s,
            "duckdb_count_median_s": statistics.median(counts),
            **_storage(settings, table),
        }
        console.print(f"  {label}: {results[label]}")
    without, with_ = results["without_compaction"], results["with_compaction"]
    results["ratios_with_over_without"] = {
        key: with_[key] / without[key] if without[key] else None
        for key in ("data_files", "manifests", "duckdb_count_median_s", "commit_s_total", "data_objects")
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-port", type=int, default=22000, help="the private stack's first port")
    parser.add_argument("--kept", default="25,100,250,500", help="snapshot counts to time a commit at")
    parser.add_argument("--batches", type=int, default=300, help="micro-batches written to each table")
    parser.add_argument("--rows", type=int, default=200, help="rows per micro-batch")
    parser.add_argument("--every", type=float, default=60, help="compaction at most every (simulated) seconds")
    args = parser.parse_args()
    kept = [int(k) for k in args.kept.split(",")]
    with bench_stack("bench-retention", args.base_port) as settings:
        console.print("commit time against the snapshots kept ...")
        cost = commit_cost(settings, kept, repeats=5)
        console.print(f"{args.batches} micro-batches of {args.rows} rows, without and with compaction ...")
        twice = written_twice(settings, args.batches, args.rows, int(args.every))
    base = cost[0]["commit_median_s"]
    write_results(
        "retention",
        {
            "commit_cost": [c | {"ratio_to_fewest": c["commit_median_s"] / base} for c in cost],
            "micro_batches": {"batches": args.batches, "rows": args.rows, "compaction_every_s": args.every},
            **twice,
        },
    )


if __name__ == "__main__":
    main()
