"""Snapshot retention and compaction on the lakehouse (S3 and the SQL catalog), read back as the output
ports read: DuckDB over the table's metadata, as of a snapshot id or a time. A product's own upkeep,
and a derived product reading its increments across compactions: tests/integration/test_derived_faults.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from open_data_contract_standard.model import SchemaProperty
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import LongType, NestedField

from mesh_adapters.lakehouse import duckdb_connection, iceberg_catalog
from mesh_config import MeshSettings
from mesh_sdk.serve.reader import TableReader
from mesh_sdk.storage.history import append_with_offsets, committed_offsets
from mesh_sdk.storage.maintenance import CompactionPolicy, Upkeep
from mesh_sdk.storage.retention import DAY_S, RetentionPolicy, Tier

pytestmark = pytest.mark.integration

SCHEMA = Schema(NestedField(1, "n", LongType(), required=True), NestedField(2, "batch", LongType(), required=True))
PROPS = [SchemaProperty(name="n", logicalType="integer"), SchemaProperty(name="batch", logicalType="integer")]
BATCHES = 30


def _ms(table: Table) -> int:
    snapshot = table.current_snapshot()
    assert snapshot is not None
    return snapshot.timestamp_ms


def test_a_thinned_and_compacted_table_reads_the_same_as_of_every_snapshot_and_second_it_keeps(
    mesh_services: MeshSettings,
) -> None:
    catalog = iceberg_catalog(mesh_services)
    name = f"playback.test_retention_{uuid.uuid4().hex[:8]}_v1"
    table = catalog.create_table(name, schema=SCHEMA)
    truth: list[tuple[int, int, list[int]]] = []  # each snapshot: its id, its time, the rows as of it
    for b in range(BATCHES):
        rows = pa.Table.from_pylist([{"n": 2 * b, "batch": b}, {"n": 2 * b + 1, "batch": b}], schema=SCHEMA.as_arrow())
        commit = append_with_offsets(table, rows, {"input": {0: b + 1}}, datetime.now(UTC).isoformat())
        truth.append((commit.snapshot_id, _ms(table), list(range(2 * b + 2))))

    # Two days later, with one snapshot per second kept for a week (the batches above took a few
    # seconds: a few buckets) and a minute of recent ones: what a workshop day later looks like.
    policy = RetentionPolicy(recent_s=60, recent_max=10, tiers=(Tier(1, 7 * DAY_S),))
    compaction = CompactionPolicy(every_s=300, min_files=8, small_file_bytes=1 << 20)
    later_s = truth[-1][1] / 1000 + 2 * DAY_S
    done = Upkeep(policy, compaction, clock=lambda: later_s).after_commit(table)

    assert done is not None and done.files_rewritten == BATCHES and done.files_written == 1
    truth.append((done.snapshot_id, _ms(table), list(range(2 * BATCHES))))
    kept = {s.snapshot_id for s in table.snapshots()}
    assert done.snapshot_id in kept and 1 < len(kept) < len(truth), "thinned out, not emptied"
    assert committed_offsets(table) == {"input": {0: BATCHES}}, "a restart would resume where it was"

    reader = TableReader(lambda: table, lambda: duckdb_connection(mesh_services), PROPS, ["n"])

    def read(snapshot_id: int) -> list[int]:
        relation = reader.relation(snapshot_id)
        return sorted(r[0] for r in reader._duck.execute(f"SELECT n FROM {relation}").fetchall())

    assert read(done.snapshot_id) == list(range(2 * BATCHES)), "the same rows after the compaction"
    current = table.current_snapshot()
    assert current is not None and current.summary is not None and current.summary["total-data-files"] == "1"
    for snapshot_id, _, rows in truth:
        if snapshot_id in kept:
            assert read(snapshot_id) == rows, f"as of kept snapshot {snapshot_id}"

    first_s, last_s = truth[0][1] // 1000 + 1, truth[-1][1] // 1000
    assert last_s >= first_s, "the batches spanned at least one whole second"
    for second in range(first_s, last_s + 1):  # as of each whole second: exactly the state then
        at = datetime.fromtimestamp(second, UTC)
        expected = [rows for _, ms, rows in truth if ms <= second * 1000][-1]
        assert read(reader.resolve_snapshot(at.isoformat()) or 0) == expected, f"as of {at}"

    listed = reader.snapshots()
    assert listed[-1].operation == "replace" and listed[-1].added_rows == 0
    assert listed[-1].total_rows == 2 * BATCHES
    catalog.drop_table(name)
