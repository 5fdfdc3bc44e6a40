"""Keeping a micro-batched table small: snapshots expired by age (mesh_sdk.storage.retention) and the small
files its commits leave compacted, both run by the table's writer right after its own commits, in its
own thread, so they never race its commits.

A compaction rewrites small data files into few, in one snapshot that holds the same rows. Iceberg
calls that a `replace`; pyiceberg 0.12 cannot write a `replace` snapshot (its summary code refuses the
operation, and it has no rewrite-data-files), so the snapshot is an `overwrite` marked with `COMPACTION`,
and every reader of increments here (mesh_sdk.storage.upstream, the masked twins) skips a marked snapshot as
the `replace` it is. It carries its parent's `mesh.*` summary properties (the input offsets, the
history snapshot a state applied, ...), so whatever reads them from the newest snapshot reads the same
after a compaction. The files it replaced stay in storage for the snapshots that still list them."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.manifest import DataFile, DataFileContent, ManifestContent
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.snapshots import Snapshot, Summary

from mesh_config import MeshSettings, load_settings
from mesh_sdk.storage.history import COMPACTION, PARTIAL
from mesh_sdk.storage.retention import DAY_S, HOUR_S, Cadence, RetentionPolicy, SnapshotFacts, Tier, to_expire

log = logging.getLogger(__name__)

LAST_COMPACTION = "mesh.last-compaction"  # table property: what the newest compaction did (JSON)
_NOT_CARRIED = (PARTIAL, COMPACTION)


def is_compaction(snapshot: Snapshot | None) -> bool:
    return snapshot is not None and snapshot.summary is not None and bool(snapshot.summary[COMPACTION])


def same_data(table: Table, earlier: int | None, later: int | None) -> bool:
    """Whether `later` is `earlier`, or compactions of it: the same rows. Asks nothing of `earlier`
    itself, which may have been expired since."""
    snapshot = table.snapshot_by_id(later) if later is not None else None
    if earlier == later:
        return True
    while is_compaction(snapshot):
        assert snapshot is not None
        if snapshot.parent_snapshot_id == earlier:
            return True
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return False


@dataclass(frozen=True)
class CompactionPolicy:
    every_s: float = 300.0  # 0: never
    min_files: int = 16
    small_file_bytes: int = 32 * 1024 * 1024
    max_input_bytes: int = 256 * 1024 * 1024

    def describe(self) -> str:
        if self.every_s <= 0:
            return "never"
        mib = 1024 * 1024
        return (
            f"at most every {self.every_s:g} s, when {self.min_files} or more data files are smaller than "
            f"{self.small_file_bytes // mib} MiB (up to {self.max_input_bytes // mib} MiB each time)"
        )


@dataclass(frozen=True)
class Compacted:
    snapshot_id: int
    at: str
    compacted_from: int
    files_rewritten: int
    files_written: int
    rows: int
    data_files_after: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _live_data_files(table: Table, snapshot: Snapshot) -> list[tuple[int, DataFile]] | None:
    """The snapshot's data files with their sequence numbers, oldest first; None when it has delete
    files (another engine's merge-on-read deletes: rewriting around them is not done here)."""
    files: list[tuple[int, DataFile]] = []
    for manifest in snapshot.manifests(table.io):
        if manifest.content != ManifestContent.DATA:
            if manifest.existing_files_count or manifest.added_files_count:
                return None
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.data_file.content != DataFileContent.DATA:
                return None
            files.append((entry.sequence_number or 0, entry.data_file))
    files.sort(key=lambda f: (f[0], f[1].file_path))
    return files


def carried(summary: Summary | None) -> dict[str, str]:
    """The mesh's own summary properties a compaction keeps from the snapshot it rewrites."""
    if summary is None:
        return {}
    return {k: v for k, v in summary.additional_properties.items() if k.startswith("mesh.") and k not in _NOT_CARRIED}


def compact(
    table: Table,
    *,
    small_file_bytes: int | None,
    min_files: int,
    max_input_bytes: int | None = None,
    sort_by: Sequence[str] = (),
) -> Compacted | None:
    """Rewrite the table's small data files (all of them when `small_file_bytes` is None) into as few
    as the table's target file size allows, in one snapshot with the same rows; None when fewer than
    `min_files` qualify. `sort_by` orders the rows written (a key: lookups open fewer row groups)."""
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None or snapshot.summary[PARTIAL]:
        return None
    live = _live_data_files(table, snapshot)
    if live is None:
        return None
    spec_id = table.metadata.default_spec_id
    chosen: list[DataFile] = []
    size = 0
    for _, data_file in live:
        small = small_file_bytes is None or data_file.file_size_in_bytes < small_file_bytes
        if not small or data_file.spec_id != spec_id:
            continue
        if max_input_bytes is not None and chosen and size + data_file.file_size_in_bytes > max_input_bytes:
            break
        chosen.append(data_file)
        size += data_file.file_size_in_bytes
    if len(chosen) < max(min_files, 2):
        return None
    rows = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table([FileScanTask(f) for f in chosen])
    if sort_by:
        rows = rows.sort_by([(c, "ascending") for c in sort_by])
    written = list(_dataframe_to_data_files(table.metadata, rows, table.io, write_uuid=uuid.uuid4()))
    # Never expected, so checked before anything is committed: a compaction that lost a row would
    # lose it for every reader from then on.
    expected = sum(f.record_count for f in chosen)
    if rows.num_rows != expected or sum(f.record_count for f in written) != expected:
        raise RuntimeError(f"compaction of {expected} rows read {rows.num_rows}: nothing committed")
    properties = carried(snapshot.summary) | {COMPACTION: str(snapshot.snapshot_id)}
    with table.transaction() as tx:
        with tx.update_snapshot(snapshot_properties=properties).overwrite() as rewrite:
            for data_file in chosen:
                rewrite.delete_data_file(data_file)
            for data_file in written:
                rewrite.append_data_file(data_file)
        after = tx.table_metadata.current_snapshot()
        assert after is not None and after.summary is not None
        result = Compacted(
            snapshot_id=after.snapshot_id,
            at=datetime.fromtimestamp(after.timestamp_ms / 1000, UTC).isoformat(),
            compacted_from=snapshot.snapshot_id,
            files_rewritten=len(chosen),
            files_written=len(written),
            rows=int(rows.num_rows),
            data_files_after=int(after.summary["total-data-files"] or 0),
        )
        tx.set_properties({LAST_COMPACTION: json.dumps(result.as_dict())})
    return result


def last_compaction(table: Table) -> dict[str, Any] | None:
    raw = table.properties.get(LAST_COMPACTION)
    return json.loads(raw) if raw else None


def snapshot_facts(table: Table) -> list[SnapshotFacts]:
    return [
        SnapshotFacts(
            s.snapshot_id,
            s.timestamp_ms,
            s.parent_snapshot_id,
            readable=s.summary is None or not s.summary[PARTIAL],
        )
        for s in table.metadata.snapshots
    ]


def ref_heads(table: Table) -> set[int]:
    """The snapshots a ref names: the current one (branch main), tags, other branches."""
    return {ref.snapshot_id for ref in table.metadata.refs.values()}


def tags(table: Table) -> dict[str, int]:
    return {name: ref.snapshot_id for name, ref in table.metadata.refs.items() if name != "main"}


def expire(table: Table, policy: RetentionPolicy, now_ms: int) -> int:
    """Expire what the policy lets go; returns how many."""
    gone = to_expire(snapshot_facts(table), ref_heads(table), now_ms, policy)
    if gone:
        table.maintenance.expire_snapshots().by_ids(gone).commit()
    return len(gone)


@dataclass
class _TableState:
    retention: Cadence
    compacted_at: float | None = None


@dataclass
class Upkeep:
    """Retention and compaction for the tables one process writes: after each commit the writer calls
    `after_commit`, which decides cheaply whether anything is due."""

    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    compaction: CompactionPolicy = field(default_factory=CompactionPolicy)
    check_every_s: float = 60.0
    check_slack: int = 50
    clock: Callable[[], float] = time.time
    _tables: dict[str, _TableState] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: MeshSettings) -> Upkeep:
        tiers = tuple(
            t
            for t in (Tier(60, settings.snapshots_minutely_s), Tier(HOUR_S, settings.snapshots_hourly_days * DAY_S))
            if t.for_s > 0
        )
        return cls(
            RetentionPolicy(settings.snapshots_recent_s, settings.snapshots_recent_max, tiers),
            CompactionPolicy(
                settings.compaction_every_s,
                settings.compaction_min_files,
                settings.compaction_small_file_bytes,
                settings.compaction_max_input_bytes,
            ),
            settings.snapshots_check_every_s,
            settings.snapshots_check_slack,
        )

    def _state(self, table: Table) -> _TableState:
        name = ".".join(table.name())
        state = self._tables.get(name)
        if state is None:
            state = self._tables[name] = _TableState(Cadence(self.check_every_s, self.check_slack))
        return state

    def after_commit(self, table: Table, *, recent_max: int | None = None, compact: bool = True) -> Compacted | None:
        """Compact if due, then expire if due (the table object is updated in place). Returns the
        compaction when there was one. `recent_max` caps the recent window for tables whose commits
        cost more than an append. Upkeep that fails is logged and tried again later: the commit it
        follows stands."""
        try:
            return self._after_commit(table, recent_max, compact)
        except Exception as exc:  # S3 or the catalog away: nothing was committed by the upkeep
            log.warning("upkeep of %s failed, tried again later: %s", ".".join(table.name()), exc)
            return None

    def _after_commit(self, table: Table, recent_max: int | None, compacting: bool) -> Compacted | None:
        state = self._state(table)
        now = self.clock()
        done = None
        every = self.compaction.every_s
        if compacting and every > 0 and (state.compacted_at is None or now - state.compacted_at >= every):
            state.compacted_at = now
            done = compact(
                table,
                small_file_bytes=self.compaction.small_file_bytes,
                min_files=self.compaction.min_files,
                max_input_bytes=self.compaction.max_input_bytes,
            )
            if done is not None:
                log.info(
                    "compacted %s: %d small files into %d (%d rows)",
                    ".".join(table.name()),
                    done.files_rewritten,
                    done.files_written,
                    done.rows,
                )
        count = len(table.metadata.snapshots)
        if state.retention.due(now, count):
            policy = self.retention if recent_max is None else self.retention.capped(recent_max)
            expired = expire(table, policy, int(now * 1000))
            state.retention.looked(now, count - expired)
        return done

    def describe(self) -> dict[str, Any]:
        r = self.retention
        return {
            "description": r.describe(),
            "recent_seconds": r.recent_s,
            "recent_max": r.recent_max,
            "tiers": [{"every_seconds": t.every_s, "for_seconds": t.for_s} for t in r.tiers],
            "compaction": self.compaction.describe(),
        }


@cache
def default_upkeep() -> Upkeep:
    """For writers built without one: the settings of this process's environment."""
    return Upkeep.from_settings(load_settings())


@dataclass(frozen=True)
class TableRetention:
    """What one table keeps, for the snapshots port."""

    kept: int
    oldest_reachable: datetime | None
    newest: datetime | None
    tags: dict[str, int]
    data_files: int
    last_compaction: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("oldest_reachable", "newest"):
            out[key] = out[key].isoformat() if out[key] is not None else None
        return out


def table_retention(table: Table) -> TableRetention:
    readable = [s for s in table.metadata.snapshots if s.summary is None or not s.summary[PARTIAL]]
    times = [s.timestamp_ms for s in readable]
    current = table.current_snapshot()
    files = current.summary["total-data-files"] if current is not None and current.summary is not None else None

    def at(ms: int | None) -> datetime | None:
        return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None

    return TableRetention(
        kept=len(readable),
        oldest_reachable=at(min(times) if times else None),
        newest=at(max(times) if times else None),
        tags=tags(table),
        data_files=int(files or 0),
        last_compaction=last_compaction(table),
    )


def retention_report(upkeep: Upkeep, tables: Mapping[str, Table]) -> dict[str, Any]:
    """The snapshots port's account of what is kept: the policy, and per table what it holds now."""
    return {"policy": upkeep.describe(), "tables": {port: table_retention(t).as_dict() for port, t in tables.items()}}
