"""Another product's Iceberg output port, as a derived product reads it: pinned to one snapshot per
refresh, either whole (a lookup, such as the catalogue of titles) or as the rows that the snapshots
since the last refresh appended (an append-only history, such as playback events). A compaction
upstream (mesh_sdk.storage.maintenance) appends nothing: its rows were read when their batches were."""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import ManifestContent, ManifestEntryStatus
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.snapshots import Operation, Snapshot

from mesh_sdk.storage.maintenance import is_compaction


class UpstreamUnavailable(RuntimeError):
    """The upstream port's table does not exist (yet): its product has never run."""


class NotIncremental(RuntimeError):
    """The rows added since a snapshot cannot be told apart: it was expired, or the table was not
    only appended to. The reader must start over from the whole table."""


class SnapshotExpired(NotIncremental):
    """The pinned snapshot is gone (expired by the upstream product's maintenance)."""


class UpstreamTable:
    def __init__(self, catalog: Catalog, name: str) -> None:
        self.catalog = catalog
        self.name = name
        self._table: Table | None = None

    def table(self) -> Table:
        """The table's newest metadata (each call looks again)."""
        try:
            if self._table is None:
                self._table = self.catalog.load_table(self.name)
            else:
                self._table = self._table.refresh()
        except NoSuchTableError:
            raise UpstreamUnavailable(f"{self.name} does not exist yet: start the product that owns it") from None
        return self._table

    def newest_snapshot(self) -> int | None:
        snapshot = self.table().current_snapshot()
        return snapshot.snapshot_id if snapshot is not None else None

    def rows(self, snapshot_id: int | None, where: str | None = None) -> pa.Table:
        """The whole table as of `snapshot_id` (an empty table before its first snapshot), or its rows
        matching the Iceberg filter `where`."""
        table = self.table()
        if snapshot_id is None:
            return table.schema().as_arrow().empty_table()
        if table.snapshot_by_id(snapshot_id) is None:
            raise SnapshotExpired(f"snapshot {snapshot_id} of {self.name} was expired: read a newer one")
        return table.scan(snapshot_id=snapshot_id, row_filter=where or AlwaysTrue()).to_arrow()

    def appended(self, since: int | None, until: int | None) -> pa.Table:
        """The rows the snapshots after `since`, up to and including `until`, appended."""
        table = self.table()
        if until is None or since == until:
            return table.schema().as_arrow().empty_table()
        if since is None:
            return self.rows(until)
        files = []
        for snapshot in self._snapshots_between(table, since, until):
            if is_compaction(snapshot):  # Iceberg's `replace`: the same rows in other files
                continue
            operation = snapshot.summary.operation if snapshot.summary is not None else None
            if operation != Operation.APPEND:
                raise NotIncremental(f"snapshot {snapshot.snapshot_id} of {self.name} is a {operation}, not an append")
            for manifest in snapshot.manifests(table.io):
                if manifest.added_snapshot_id != snapshot.snapshot_id or manifest.content != ManifestContent.DATA:
                    continue
                for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                    if entry.status == ManifestEntryStatus.ADDED:
                        files.append(FileScanTask(entry.data_file))
        if not files:
            return table.schema().as_arrow().empty_table()
        return ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table(files)

    def _snapshots_between(self, table: Table, since: int, until: int) -> list[Snapshot]:
        """The ancestors of `until` back to (excluding) `since`, oldest first."""
        found: list[Snapshot] = []
        snapshot = table.snapshot_by_id(until)
        while snapshot is not None and snapshot.snapshot_id != since:
            found.append(snapshot)
            parent = snapshot.parent_snapshot_id
            snapshot = table.snapshot_by_id(parent) if parent is not None else None
        if snapshot is None:
            raise NotIncremental(f"snapshot {since} of {self.name} is no longer an ancestor of {until} (expired?)")
        return found[::-1]
