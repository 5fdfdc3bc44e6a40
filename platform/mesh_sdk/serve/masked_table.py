"""A product's Iceberg table with its PII masked, for consumers who read the lakehouse directly without a
PII grant: object storage serves whole files and cannot mask a column, so the product keeps a twin,
`<product>_<port>_masked_v<major>`, following the table. Rows the table's new snapshots appended are
appended masked (a compaction appends none); any other change (an upsert, a deletion, an expired
snapshot) rewrites the twin from the table's newest snapshot. Each twin snapshot names the table
snapshot it reflects, in the same commit: a crash neither loses nor repeats a row."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from mesh_sdk.serve.reader import MASK
from mesh_sdk.storage.history import ensure_table
from mesh_sdk.storage.maintenance import Upkeep, default_upkeep
from mesh_sdk.storage.upstream import NotIncremental, UpstreamTable

log = logging.getLogger(__name__)

MASKED_FROM = "mesh.masked-from"  # twin snapshot summary: the id of the table snapshot it reflects
# A twin is rewritten whole after any change that is not an append: it keeps fewer recent snapshots.
TWIN_RECENT_MAX = 100


def _zero(kind: pa.DataType) -> Any:
    if pa.types.is_boolean(kind):
        return False
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return b""
    return 0  # numbers; dates and timestamps: the epoch


def mask_rows(rows: pa.Table, pii: Iterable[str]) -> pa.Table:
    """The rows with their `pii` columns masked as the other ports mask them: `***` for text, null where
    a column allows it, else its type's zero."""
    for name in sorted(set(pii) & set(rows.column_names)):
        index = rows.schema.get_field_index(name)
        field, column = rows.schema.field(index), rows.column(index)
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            masked = pc.if_else(pc.is_null(column), column, pa.scalar(MASK, field.type))
        elif field.nullable:
            masked = pa.nulls(rows.num_rows, field.type)
        else:
            masked = pa.array([_zero(field.type)] * rows.num_rows, field.type)
        rows = rows.set_column(index, field, masked)
    return rows


class MaskedTable:
    def __init__(
        self,
        catalog: Catalog,
        name: str,
        twin: str,
        pii: Iterable[str],
        description: str,
        upkeep: Upkeep | None = None,
    ) -> None:
        self.source = UpstreamTable(catalog, name)
        self.upkeep = upkeep or default_upkeep()
        self.pii = frozenset(pii)
        self.name = twin
        schema = self.source.table().schema()
        self.twin: Table = ensure_table(catalog, self.name, schema, f"{description} (PII masked)")

    def reflected(self) -> int | None:
        """The table snapshot the twin reflects (None: none yet)."""
        snapshot = self.twin.current_snapshot()
        value = snapshot.summary[MASKED_FROM] if snapshot is not None and snapshot.summary is not None else None
        return int(value) if value else None

    def step(self) -> int:
        """Bring the twin up to the table's newest snapshot; returns the rows written."""
        self.twin = self.twin.refresh()
        newest, done = self.source.newest_snapshot(), self.reflected()
        if newest is None or newest == done:
            return 0
        properties = {MASKED_FROM: str(newest)}
        try:
            rows = mask_rows(self.source.appended(done, newest), self.pii)
            self.twin.append(rows, snapshot_properties=properties)
        except NotIncremental:
            rows = mask_rows(self.source.rows(newest), self.pii)
            self.twin.overwrite(rows, snapshot_properties=properties)
        self.upkeep.after_commit(self.twin, recent_max=TWIN_RECENT_MAX)
        return int(rows.num_rows)


def follow(twins: list[MaskedTable], stopping: threading.Event, every_s: float) -> None:
    """Keep every twin in line with its table until `stopping` is set; trouble is retried."""
    while not stopping.is_set():
        for twin in twins:
            try:
                twin.step()
            except Exception as exc:  # S3 or the catalog restarting: the next look catches up
                log.warning("the masked table %s is behind: %s", twin.name, exc)
        stopping.wait(every_s)
