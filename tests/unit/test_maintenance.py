"""Snapshot retention and compaction applied to Iceberg tables, on a local catalog (SQLite, files): the
same rows in fewer files, offsets and markers carried, readers of increments and twins not fooled, the
policy applied on a cadence. The same against S3 and a running product: tests/integration/test_retention.py."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import LongType, NestedField, StringType

from mesh_sdk.derive.keyed_table import KeyedTable
from mesh_sdk.serve.masked_table import MaskedTable
from mesh_sdk.serve.reader import HotCopy
from mesh_sdk.spec.logic import Update
from mesh_sdk.storage.history import (
    COMPACTION,
    METADATA_FILES_KEPT,
    append_with_offsets,
    committed_offsets,
    ensure_table,
    latest_batch,
    recent_batches,
)
from mesh_sdk.storage.maintenance import (
    LAST_COMPACTION,
    CompactionPolicy,
    Upkeep,
    compact,
    is_compaction,
    retention_report,
    same_data,
)
from mesh_sdk.storage.retention import HOUR_S, RetentionPolicy, Tier
from mesh_sdk.storage.upstream import UpstreamTable

SCHEMA = Schema(
    NestedField(1, "event_id", LongType(), required=True),
    NestedField(2, "email", StringType(), required=False),
)
ARROW = SCHEMA.as_arrow()


@pytest.fixture
def catalog(tmp_path: Path) -> SqlCatalog:
    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")
    catalog.create_namespace("play")
    catalog.create_table("play.events_v1", schema=SCHEMA)
    return catalog


def _rows(*ids: int) -> pa.Table:
    return pa.Table.from_pylist([{"event_id": i, "email": f"v{i}@example.com"} for i in ids], schema=ARROW)


def _batches(table: Table, count: int, start: int = 0) -> None:
    """`count` micro-batches of two rows each, each with its offsets, as the ingestion engine commits them."""
    for n in range(start, start + count):
        at = f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}+00:00"
        append_with_offsets(table, _rows(2 * n, 2 * n + 1), {"in": {0: 2 * n + 2}}, at)


def _ids(table: Table, snapshot_id: int | None = None) -> list[int]:
    return sorted(table.scan(snapshot_id=snapshot_id).to_arrow()["event_id"].to_pylist())


def _files(table: Table) -> int:
    snapshot = table.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    return int(snapshot.summary["total-data-files"] or 0)


def test_a_compaction_keeps_the_rows_in_fewer_files_in_one_snapshot(catalog: SqlCatalog) -> None:
    table = catalog.load_table("play.events_v1")
    _batches(table, 20)
    before = table.current_snapshot()
    assert before is not None and _files(table) == 20
    snapshots_before = len(table.snapshots())

    done = compact(table, small_file_bytes=1 << 20, min_files=4)

    assert done is not None and done.files_rewritten == 20 and done.files_written == 1 and done.rows == 40
    assert _files(table) == 1 and done.data_files_after == 1
    assert _ids(table) == list(range(40)), "the same rows"
    assert len(table.snapshots()) == snapshots_before + 1, "one snapshot: never a state without the rows"
    after = table.current_snapshot()
    assert after is not None and after.summary is not None
    assert is_compaction(after) and after.summary[COMPACTION] == str(before.snapshot_id)
    assert _ids(table, before.snapshot_id) == list(range(40)), "the snapshot before still reads its files"
    assert same_data(table, before.snapshot_id, after.snapshot_id)
    assert not same_data(table, after.snapshot_id, before.snapshot_id)
    assert table.properties[LAST_COMPACTION]


def test_a_compaction_carries_the_offsets_and_the_newest_batch(catalog: SqlCatalog) -> None:
    table = catalog.load_table("play.events_v1")
    _batches(table, 6)
    offsets, newest = committed_offsets(table), latest_batch(table)
    assert compact(table, small_file_bytes=None, min_files=2) is not None
    assert committed_offsets(table) == offsets == {"in": {0: 12}}, "a restart resumes where it did"
    assert latest_batch(table) == newest, "stream recovery sees the same newest batch"
    assert recent_batches(table, 4) == "2026-01-01T00:00:04+00:00", "the compaction counts as no batch"


def test_too_few_small_files_is_no_compaction(catalog: SqlCatalog) -> None:
    table = catalog.load_table("play.events_v1")
    _batches(table, 3)
    assert compact(table, small_file_bytes=1 << 20, min_files=4) is None
    assert compact(table, small_file_bytes=10, min_files=2) is None, "none of them is small"
    assert not is_compaction(table.current_snapshot())


def test_a_compaction_rewrites_no_more_than_its_input_budget(catalog: SqlCatalog) -> None:
    table = catalog.load_table("play.events_v1")
    _batches(table, 10)
    one_file = table.inspect.files()["file_size_in_bytes"][0].as_py()
    done = compact(table, small_file_bytes=1 << 20, min_files=2, max_input_bytes=4 * one_file)
    assert done is not None and done.files_rewritten == 4 and _files(table) == 7
    assert _ids(table) == list(range(20))


def test_readers_of_increments_take_a_compaction_for_no_new_rows(catalog: SqlCatalog) -> None:
    table = catalog.load_table("play.events_v1")
    upstream = UpstreamTable(catalog, "play.events_v1")
    _batches(table, 5)
    seen = upstream.newest_snapshot()
    _batches(table, 2, start=5)
    assert compact(table, small_file_bytes=None, min_files=2) is not None
    _batches(table, 1, start=7)
    newest = upstream.newest_snapshot()
    appended = upstream.appended(seen, newest)
    assert sorted(appended["event_id"].to_pylist()) == list(range(10, 16)), "neither doubled nor lost"
    compacted = table.current_snapshot()
    assert compacted is not None and compacted.parent_snapshot_id is not None
    assert compact(table, small_file_bytes=None, min_files=2) is not None
    assert upstream.appended(newest, upstream.newest_snapshot()).num_rows == 0


def test_a_masked_twin_follows_a_compaction_without_a_row_twice(catalog: SqlCatalog) -> None:
    table = catalog.load_table("play.events_v1")
    upkeep = Upkeep(compaction=CompactionPolicy(every_s=0))
    twin = MaskedTable(catalog, "play.events_v1", "play.events_masked_v1", {"email"}, "events", upkeep)
    _batches(table, 4)
    assert twin.step() == 8
    assert compact(table, small_file_bytes=None, min_files=2) is not None
    _batches(table, 1, start=4)
    assert twin.step() == 2
    rows = twin.twin.refresh().scan().to_arrow()
    assert sorted(rows["event_id"].to_pylist()) == list(range(10))
    assert set(rows["email"].to_pylist()) == {"***"}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_upkeep_expires_by_age_on_its_cadence_and_compacts_at_most_so_often(catalog: SqlCatalog) -> None:
    table = catalog.load_table("play.events_v1")
    _batches(table, 12)
    first = table.snapshots()[0]
    clock = Clock(first.timestamp_ms / 1000)
    upkeep = Upkeep(
        RetentionPolicy(recent_s=600, recent_max=100, tiers=(Tier(HOUR_S, 2 * 24 * HOUR_S),)),
        CompactionPolicy(every_s=300, min_files=8, small_file_bytes=1 << 20),
        check_every_s=60,
        check_slack=50,
        clock=clock,
    )
    done = upkeep.after_commit(table)
    assert done is not None and _files(table) == 1, "due at once: nothing known yet"
    assert len(table.snapshots()) == 13, "all of them recent: none expired"

    clock.now += 3 * HOUR_S  # hours later, one more batch: everything before is out of the recent window
    _batches(table, 9, start=12)
    assert upkeep.after_commit(table) is not None, "compaction is due again"
    current = table.current_snapshot()
    assert current is not None
    kept = {s.snapshot_id for s in table.snapshots()}
    assert current.snapshot_id in kept and len(kept) < 13 + 10
    assert _ids(table) == list(range(42))
    assert committed_offsets(table) == {"in": {0: 42}}

    _batches(table, 9, start=21)
    clock.now += 1
    assert upkeep.after_commit(table) is None, "compacted a second ago: not yet"
    count = len(table.snapshots())
    _batches(table, 1, start=30)
    clock.now += 1
    upkeep.after_commit(table)
    assert len(table.snapshots()) == count + 1, "the policy was applied a second ago: not looked at again"


def test_the_newest_snapshot_of_an_hour_still_reads_as_of_its_time(catalog: SqlCatalog) -> None:
    table = catalog.load_table("play.events_v1")
    _batches(table, 5)
    hourly = table.current_snapshot()
    assert hourly is not None
    assert compact(table, small_file_bytes=None, min_files=2) is not None
    _batches(table, 5, start=5)
    clock = Clock(hourly.timestamp_ms / 1000 + 4 * HOUR_S)
    policy = RetentionPolicy(recent_s=HOUR_S, recent_max=100, tiers=(Tier(HOUR_S, 24 * HOUR_S),))
    Upkeep(policy, CompactionPolicy(every_s=0), clock=clock).after_commit(table)
    # Everything here was committed within a few seconds, hours ago: one snapshot per hour bucket
    # survives (the newest), and the current one.
    assert len(table.snapshots()) <= 2
    current = table.current_snapshot()
    assert current is not None and _ids(table, current.snapshot_id) == list(range(20))


def test_a_tagged_snapshot_survives_retention(catalog: SqlCatalog) -> None:
    table = catalog.load_table("play.events_v1")
    _batches(table, 3)
    noted = table.snapshots()[0]
    table.manage_snapshots().create_tag(noted.snapshot_id, "workshop-morning").commit()
    _batches(table, 3, start=3)
    clock = Clock(noted.timestamp_ms / 1000 + 30 * 24 * HOUR_S)
    Upkeep(clock=clock, compaction=CompactionPolicy(every_s=0)).after_commit(table)
    assert {s.snapshot_id for s in table.snapshots()} == {noted.snapshot_id, table.snapshots()[-1].snapshot_id}
    assert _ids(table, noted.snapshot_id) == [0, 1]
    upkeep = Upkeep(RetentionPolicy(recent_s=60, recent_max=5, tiers=()))
    report = retention_report(upkeep, {"history": table})
    assert report["tables"]["history"]["tags"] == {"workshop-morning": noted.snapshot_id}
    assert report["tables"]["history"]["kept"] == 2
    assert report["policy"]["description"].startswith("every snapshot of the last 1 minute (at most the newest 5)")


def test_upkeep_that_fails_leaves_the_commit_standing(catalog: SqlCatalog) -> None:
    table = catalog.load_table("play.events_v1")
    _batches(table, 2)

    def broken() -> float:
        raise OSError("S3 is away")

    assert Upkeep(clock=broken).after_commit(table) is None
    assert _ids(table) == [0, 1, 2, 3]


KEYED = pa.schema([pa.field("event_id", pa.int64(), nullable=False), pa.field("email", pa.string())])


def test_a_keyed_table_compacts_into_one_sorted_file_in_one_snapshot(catalog: SqlCatalog) -> None:
    table = catalog.load_table("play.events_v1")
    keyed = KeyedTable(table, ["event_id"], KEYED, Upkeep(compaction=CompactionPolicy(every_s=0)))
    for n in range(6):
        keyed.write(Update(rows=[{"event_id": 10 - n, "email": f"{n}"}]), {"mesh.refresh": str(n)})
    written = keyed.table.current_snapshot()
    count = len(keyed.table.snapshots())
    keyed.compact()
    assert len(keyed.table.snapshots()) == count + 1 and _files(keyed.table) == 1
    assert keyed.table.scan().to_arrow()["event_id"].to_pylist() == [5, 6, 7, 8, 9, 10], "sorted by key"
    current = keyed.table.current_snapshot()
    assert current is not None and current.summary is not None and current.summary["mesh.refresh"] == "5"
    assert written is not None
    assert not keyed.roll_back_to(written.snapshot_id), "the compaction is that state already"


def test_the_in_memory_copy_follows_a_compaction_without_a_reload(catalog: SqlCatalog) -> None:
    table = catalog.load_table("play.events_v1")
    _batches(table, 3)
    hot = HotCopy(ARROW, max_rows=1000)
    hot.load(table)
    assert compact(table, small_file_bytes=None, min_files=2) is not None
    current = table.current_snapshot()
    assert current is not None and not hot.holds(current.snapshot_id)
    assert hot.follow(table) and hot.holds(current.snapshot_id)
    _batches(table, 1, start=3)
    assert not hot.follow(table), "a new batch is new rows: not the same data"


def test_a_table_keeps_a_few_metadata_files_not_one_per_commit(catalog: SqlCatalog, tmp_path: Path) -> None:
    made_before = ensure_table(catalog, "play.events_v1", SCHEMA, "events")
    assert all(made_before.properties[k] == v for k, v in METADATA_FILES_KEPT.items()), "set on an older table"
    made_now = ensure_table(catalog, "play.other_v1", SCHEMA, "other")
    assert all(made_now.properties[k] == v for k, v in METADATA_FILES_KEPT.items())
    _batches(made_before, 40)
    files = list((tmp_path / "warehouse").rglob("*.metadata.json"))
    kept = int(METADATA_FILES_KEPT["write.metadata.previous-versions-max"])
    assert len([f for f in files if "events_v1" in str(f)]) <= kept + 1
    assert _ids(made_before) == list(range(80))
