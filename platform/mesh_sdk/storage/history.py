"""The product's history table in the lakehouse, and the Kafka offsets committed inside its snapshots."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Summary

OFFSETS = "mesh.offsets"  # snapshot summary key: {"topic": {"partition": next offset to read}}
BATCH_AT = "mesh.ingested-at"
RETIRED = "mesh.retired-inputs"  # table property: input topics read no more, comma-separated
# Marks a snapshot in the middle of a commit made of several (a delete, then an append): it never
# shows a state anyone wrote, so time travel skips it.
PARTIAL = "mesh.partial"
# Marks a compaction (mesh_sdk.storage.maintenance): the same rows in fewer files, so no batch of its own. Its
# value is the id of the snapshot whose files it rewrote; it carries that snapshot's other `mesh.*`
# properties (offsets included), so the newest snapshot always holds them.
COMPACTION = "mesh.compaction"

Offsets = dict[str, dict[int, int]]


# Every commit writes a new metadata file that lists every snapshot kept (hundreds of KB each), and the
# old ones stay unless the table says otherwise: gigabytes a day at one commit a second. Iceberg deletes
# all but the newest few after each commit with these (a reader binds a metadata file when its query
# starts, and the ports rebuild their views within a second of a commit).
METADATA_FILES_KEPT = {
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}


PORT = "mesh.port"  # table property: `<product id>/<port>`, whose table it is, for who reads it by name


def ensure_table(catalog: Catalog, name: str, schema: Schema, description: str, port: str | None = None) -> Table:
    """The table, created on first use; a column the contract gained since (a compatible change) is
    added to it, optional, since the rows written before have no value for it."""
    try:
        table = catalog.load_table(name)
    except NoSuchTableError:
        properties = {"comment": description, **METADATA_FILES_KEPT} | ({PORT: port} if port else {})
        return catalog.create_table(name, schema=schema, properties=properties)
    missing = [f for f in schema.fields if f.name not in table.schema().column_names]
    if missing:
        with table.update_schema() as update:
            for f in missing:
                update.add_column(f.name, f.field_type, doc=f.doc)
        table = table.refresh()
    if any(table.properties.get(k) != v for k, v in METADATA_FILES_KEPT.items()):  # made before they were set
        try:
            with table.transaction() as tx:
                tx.set_properties(METADATA_FILES_KEPT)
        except CommitFailedException:  # another writer of the table committed first: set at the next start
            table = table.refresh()
    return table


def lineage(table: Table) -> Iterator[Summary]:
    """The summaries of the current snapshot and its ancestors, newest first."""
    snapshot = table.current_snapshot()
    while snapshot is not None:
        if snapshot.summary is not None:
            yield snapshot.summary
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None


def committed_offsets(table: Table) -> Offsets:
    """The offsets recorded by the newest snapshot that recorded any (each records all of them)."""
    for summary in lineage(table):
        raw = summary[OFFSETS]
        if raw:
            data = json.loads(raw)
            return {topic: {int(p): int(o) for p, o in parts.items()} for topic, parts in data.items()}
    return {}


@dataclass(frozen=True)
class Commit:
    snapshot_id: int
    rows: int


def append_with_offsets(table: Table, rows: pa.Table, offsets: Offsets, batch_at: str) -> Commit:
    """Append rows and the offsets that produced them in one atomic snapshot: after a crash, the table
    and the position in the input agree, so nothing is lost and nothing is written twice. The caller
    runs the table's upkeep (mesh_sdk.storage.maintenance) when it is done with the batch."""
    encoded = json.dumps({t: {str(p): o for p, o in parts.items()} for t, parts in offsets.items()})
    table.append(rows, snapshot_properties={OFFSETS: encoded, BATCH_AT: batch_at})
    snapshot = table.current_snapshot()
    assert snapshot is not None
    return Commit(snapshot.snapshot_id, rows.num_rows)


def retired_inputs(table: Table) -> set[str]:
    """The input topics the product reads no more: their sources said their last word (EndOfInput)."""
    return {t for t in table.properties.get(RETIRED, "").split(",") if t}


def retire_inputs(table: Table, topics: set[str]) -> None:
    """Record, for good, that the product reads these input topics no more (a table property, so a
    restart knows it before it assigns a partition)."""
    with table.transaction() as tx:
        tx.set_properties({RETIRED: ",".join(sorted(retired_inputs(table) | topics))})


def recent_batches(table: Table, rows_wanted: int) -> str | None:
    """The `ingested-at` of the oldest batch among the newest batches that hold `rows_wanted` rows
    (None when no snapshot was written by the ingestion engine)."""
    oldest, rows = None, 0
    for summary in lineage(table):
        if rows >= rows_wanted:
            break
        if summary[COMPACTION]:  # a batch's rows again, in other files
            continue
        batch_at = summary[BATCH_AT]
        if batch_at:
            oldest = batch_at
            rows += int(summary["added-records"] or 0)
    return oldest


def latest_batch(table: Table) -> str | None:
    """The `ingested-at` of the newest snapshot, if the ingestion engine wrote it."""
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return None
    value = snapshot.summary[BATCH_AT]
    return str(value) if value else None
