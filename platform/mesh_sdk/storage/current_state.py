"""The current state of a captured table, kept in its own Iceberg table beside the change history.

The history (every change, with the input offsets in its snapshots) is the truth; the current state
is derived from it: after each history batch, the batch's changes are folded per key (the change
with the highest source position wins) and applied in one Iceberg transaction: the touched keys are
deleted, the rows still alive are appended. Each state snapshot names the history snapshot it has
applied, so after a crash between the two commits the state catches up from the history, and
applying a batch twice changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import reduce
from typing import Any

import pyarrow as pa
from pyiceberg.expressions import And, BooleanExpression, EqualTo, GreaterThan, In, Or
from pyiceberg.table import Table

from mesh_sdk.storage.history import BATCH_AT, lineage
from mesh_sdk.storage.keyed import Delta, KeyedRows

log = logging.getLogger(__name__)

APPLIED = "mesh.applied-history-snapshot"
DELETE = "d"


def fold(changes: Sequence[dict[str, Any]], key_columns: Sequence[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The newest change of each key: the highest `position`, the later one on a tie."""
    newest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for change in changes:
        key = tuple(change[c] for c in key_columns)
        seen = newest.get(key)
        if seen is None or (change["position"] or 0) >= (seen["position"] or 0):
            newest[key] = change
    return newest


# pyiceberg's expression constructors are typed more narrowly than they accept (plain column names).
def _matching(keys: Sequence[tuple[Any, ...]], key_columns: Sequence[str]) -> BooleanExpression:
    if len(key_columns) == 1:
        return In(key_columns[0], {k[0] for k in keys})  # type: ignore[call-arg,arg-type]
    rows: list[BooleanExpression] = [
        reduce(And, (EqualTo(c, v) for c, v in zip(key_columns, k, strict=True)))  # type: ignore[arg-type,call-arg]
        for k in keys
    ]
    return reduce(Or, rows)


class CurrentState(KeyedRows):
    """With `follow_versions`, a change older than what the state already holds for its key (a lower
    position) leaves the state alone, whenever it arrives. Needed when changes of one key come from two
    inputs that are read side by side (an entity moving between systems): the order in which they are
    read is then not the order in which they happened. The newest position of every key the history
    holds, deleted ones too, is kept in memory from `follow_versions` on."""

    versions: dict[tuple[Any, ...], int] | None = None

    def follow_versions(self, history: Table) -> None:
        versions: dict[tuple[Any, ...], int] = {}
        columns = (*self.key_columns, "position")
        if history.current_snapshot() is not None:
            for batch in history.scan(selected_fields=columns).to_arrow_batch_reader():
                for row in batch.to_pylist():
                    key = tuple(row[c] for c in self.key_columns)
                    position = row["position"] or 0
                    if position > versions.get(key, -1):
                        versions[key] = position
        self.versions = versions

    def _not_older(self, newest: dict[tuple[Any, ...], dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
        """The changes at or past what the state has seen for their key (the same position again is
        the same change: applying it twice changes nothing)."""
        if self.versions is None:
            return newest
        kept = {k: c for k, c in newest.items() if (c["position"] or 0) >= self.versions.get(k, -1)}
        if len(kept) < len(newest):
            log.info(
                "%d changes older than the state's rows of their keys: kept in the history only",
                len(newest) - len(kept),
            )
        for key, change in kept.items():
            self.versions[key] = change["position"] or 0
        return kept

    def applied(self) -> int | None:
        """The history snapshot whose changes the state includes, as recorded by the newest state snapshot."""
        for summary in lineage(self.table):
            value = summary[APPLIED]
            if value:
                return int(value)
        return None

    def apply(self, changes: pa.Table | Sequence[dict[str, Any]], history_snapshot: int) -> Delta | None:
        """Apply a batch of changes; returns what changed (None when nothing did)."""
        rows = changes.to_pylist() if isinstance(changes, pa.Table) else list(changes)
        newest = self._not_older(fold(rows, self.key_columns))
        if not newest:
            return None
        before = self.snapshot_id()
        alive = pa.Table.from_pylist(
            [{n: row[n] for n in self.schema.names} for row in newest.values() if row["op"] != DELETE],
            schema=self.schema,
        )
        self.replace(_matching(list(newest), self.key_columns), alive, {APPLIED: str(history_snapshot)})
        after = self.snapshot_id()
        self.upkeep.after_commit(self.table)  # a compaction keeps the rows (and the marker) of `after`
        keys = pa.Table.from_pylist(
            [dict(zip(self.key_columns, k, strict=True)) for k in newest], schema=self.key_schema()
        )
        return Delta(before, after, keys, alive)

    def catch_up(self, history: Table) -> int:
        """Apply what the history committed after the state's last apply (all of it the first time).
        Returns the number of changes applied."""
        current = history.current_snapshot()
        if current is None:
            return 0
        applied = self.applied()
        if applied == current.snapshot_id:
            return 0
        row_filter: BooleanExpression | None = None
        if applied is not None:
            snapshot = history.snapshot_by_id(applied)
            since = snapshot.summary[BATCH_AT] if snapshot is not None and snapshot.summary is not None else None
            if since:
                row_filter = GreaterThan("ingested_at", since)  # type: ignore[call-arg,arg-type]
        scan = history.scan(row_filter=row_filter) if row_filter is not None else history.scan()
        changes = scan.to_arrow()
        log.info("current state catches up with %d changes from the history", changes.num_rows)
        self.apply(changes, current.snapshot_id)
        return int(changes.num_rows)
