"""A derived product's output table: rows replaced by key in one Iceberg transaction (the touched keys
deleted, their new rows appended), or the whole content replaced. Frequent small commits leave many
small files behind, so every so often the table is rewritten as one sorted file (a compaction:
mesh_sdk.storage.maintenance)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, In

from mesh_sdk.spec.logic import Rows, Update
from mesh_sdk.storage.keyed import Delta, KeyedRows
from mesh_sdk.storage.maintenance import compact, same_data

log = logging.getLogger(__name__)

# Every commit rewrites each data file holding a touched key, and pyiceberg copies the table's metadata
# once per file it rewrites: past this many files, the table is rewritten as one.
MAX_DATA_FILES = 8
# Every commit copies the table's metadata once per data file it rewrites, and the metadata grows with
# the snapshots kept: a table rewritten every few seconds keeps fewer recent ones than an append-only
# one (two per refresh: the delete and the append).
RECENT_MAX = 200


# pyiceberg's expression constructors are typed more narrowly than they accept (plain column names).
def covering(keys: pa.Table) -> BooleanExpression:
    """A cheap filter that selects every row with one of these keys: each key column within the set of
    its values. For a composite key it may select more (other combinations of the same values): a
    filter with one term per key would be evaluated term by term for every file, in Python."""
    terms: list[BooleanExpression] = [
        In(column, set(keys[column].to_pylist()))  # type: ignore[call-arg,arg-type]
        for column in keys.column_names
    ]
    return reduce(And, terms)


def _key_strings(table: pa.Table, columns: Sequence[str]) -> pa.Array:
    parts = [pc.cast(table[c], pa.string()) for c in columns]
    return pc.binary_join_element_wise(*parts, "\x1f")


def as_arrow(rows: Rows, schema: pa.Schema) -> pa.Table:
    if isinstance(rows, pa.Table):
        return rows.select(schema.names).cast(schema)
    return pa.Table.from_pylist([{n: row.get(n) for n in schema.names} for row in rows], schema=schema)


class KeyedTable(KeyedRows):
    def write(self, update: Update, properties: Mapping[str, str], extra: Mapping[str, str] | None = None) -> Delta:
        """Commit one update with `properties` in its snapshots (and `extra` as table properties, in the
        same transaction). Returns the keys removed and the rows added."""
        rows = as_arrow(update.rows, self.schema)
        keys = self._keys(rows, update.deleted)
        before = self.snapshot_id()
        if update.replace_all:
            self.replace(AlwaysTrue(), rows, properties, extra)
        elif keys.num_rows:
            self.replace(covering(keys), pa.concat_tables([self._bystanders(keys), rows]), properties, extra)
        else:
            self.replace(None, rows, properties, extra)
        # Its own compaction (below) is due by file count, not time: only snapshots expire here.
        self.upkeep.after_commit(self.table, recent_max=RECENT_MAX, compact=False)
        return Delta(before, self.snapshot_id(), keys, rows)

    def _bystanders(self, keys: pa.Table) -> pa.Table:
        """Rows the covering filter selects whose keys were not touched: they are written back."""
        if len(self.key_columns) == 1 or self.table.current_snapshot() is None:
            return self.schema.empty_table()
        selected = self.table.scan(row_filter=covering(keys)).to_arrow()
        if not selected.num_rows:
            return self.schema.empty_table()
        touched = _key_strings(keys, self.key_columns)
        untouched = pc.invert(pc.is_in(_key_strings(selected, self.key_columns), value_set=touched))
        return selected.filter(untouched).select(self.schema.names).cast(self.schema)

    def _keys(self, rows: pa.Table, deleted: Sequence[Mapping[str, Any]]) -> pa.Table:
        gone = pa.Table.from_pylist([{c: k[c] for c in self.key_columns} for k in deleted], schema=self.key_schema())
        return (
            pa.concat_tables([rows.select(self.key_columns), gone]) if gone.num_rows else rows.select(self.key_columns)
        )

    def due_for_compaction(self) -> bool:
        snapshot = self.table.current_snapshot()
        files = snapshot.summary["total-data-files"] if snapshot is not None and snapshot.summary else None
        return int(files or 0) > MAX_DATA_FILES

    def compact(self) -> None:
        """Rewrite the table as one file sorted by key: the same rows, far fewer files to open."""
        done = compact(self.table, small_file_bytes=None, min_files=2, sort_by=self.key_columns)
        if done is not None:
            log.info("compacted %s: %d rows in %d file(s)", self.table.name(), done.rows, done.files_written)

    def roll_back_to(self, snapshot_id: int | None) -> bool:
        """Make `snapshot_id` current again (an empty table for None): the state of the last complete
        refresh. Returns whether anything changed. A compaction of it since is that state already (and
        it may be all that is left of it: retention keeps the newest snapshot of each hour)."""
        current = self.table.current_snapshot()
        if same_data(self.table, snapshot_id, current.snapshot_id if current else None):
            return False
        if snapshot_id is None:
            self.table.delete(AlwaysTrue())
        else:
            self.table.manage_snapshots().set_current_snapshot(snapshot_id=snapshot_id).commit()
        return True
