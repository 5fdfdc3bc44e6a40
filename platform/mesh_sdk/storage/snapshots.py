"""A table's snapshots as its readers see them: the ones they may travel to, with what each added."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot as IcebergSnapshot

from mesh_sdk.storage.history import PARTIAL
from mesh_sdk.storage.maintenance import is_compaction


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: int
    committed_at: datetime
    operation: str
    added_rows: int
    total_rows: int
    added_bytes: int


def readable(snapshots: Iterable[IcebergSnapshot]) -> list[IcebergSnapshot]:
    """The snapshots a reader may travel to: not the middle of a commit made of several."""
    return [s for s in snapshots if s.summary is None or not s.summary[PARTIAL]]


def listed_snapshots(table: Table) -> list[Snapshot]:
    """The snapshots a reader may travel to, oldest first. A compaction is listed as what it is in
    Iceberg's terms, a `replace`: it added no rows (it rewrote some into fewer files)."""
    out = []
    for s in readable(table.snapshots()):
        summary = s.summary
        compaction = is_compaction(s)

        def num(key: str, summary: Any = summary, compaction: bool = compaction) -> int:
            if compaction and key.startswith("added-"):
                return 0
            return int(summary[key] or 0) if summary is not None else 0

        operation = "replace" if compaction else str(summary.operation.value) if summary is not None else ""
        out.append(
            Snapshot(
                s.snapshot_id,
                datetime.fromtimestamp(s.timestamp_ms / 1000, UTC),
                operation,
                num("added-records"),
                num("total-records"),
                num("added-files-size"),
            )
        )
    return out
