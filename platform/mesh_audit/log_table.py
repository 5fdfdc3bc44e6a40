"""The audit log as an append-only Iceberg table: one snapshot per micro-batch, holding the batch's
records and the Kafka offsets that produced them (see mesh_sdk.storage.history)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError
from pyiceberg.expressions import BooleanExpression, EqualTo, GreaterThan
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

from mesh_audit.config import TABLE
from mesh_audit.record import AuditRecord, ChainHead
from mesh_sdk.storage.history import Commit, Offsets, append_with_offsets, committed_offsets, ensure_table
from mesh_sdk.storage.maintenance import Upkeep, default_upkeep

DESCRIPTION = "The mesh's immutable change audit log: one hash-chained record per change event (append-only)"

SCHEMA = Schema(
    NestedField(1, "sequence", LongType(), required=True, doc="global, gap-free, from 1"),
    NestedField(2, "recorded_at", TimestamptzType(), required=True, doc="when the audit log recorded it"),
    NestedField(3, "occurred_at", TimestamptzType(), required=False, doc="source time of the change"),
    NestedField(4, "source", StringType(), required=True, doc="the Kafka topic"),
    NestedField(5, "source_table", StringType(), required=False, doc="db.schema.table of a CDC event"),
    NestedField(6, "entity_key", StringType(), required=False, doc="the changed entity's key as text"),
    NestedField(7, "operation", StringType(), required=True, doc="c, u, d, r, an outbox type, or unreadable"),
    NestedField(8, "before_digest", StringType(), required=False, doc="sha256 of the canonical JSON before"),
    NestedField(9, "after_digest", StringType(), required=False, doc="sha256 of the canonical JSON after"),
    NestedField(10, "payload_ref", StringType(), required=True, doc="kafka://topic/partition/offset"),
    NestedField(11, "prev_hash", StringType(), required=True, doc="hash of the previous record"),
    NestedField(12, "hash", StringType(), required=True, doc="sha256 of prev_hash + this record's content"),
    NestedField(13, "detail", StringType(), required=False, doc="JSON: a data access's port, rows, purposes"),
)


class AuditTable:
    """The Iceberg side of the log. Only ever appends."""

    def __init__(self, table: Table, upkeep: Upkeep | None = None) -> None:
        self.table = table
        self.upkeep = upkeep or default_upkeep()
        self._arrow = table.schema().as_arrow()

    @property
    def name(self) -> str:
        return ".".join(self.table.name())

    @classmethod
    def ensure(cls, catalog: Catalog, name: str = TABLE, upkeep: Upkeep | None = None) -> AuditTable:
        """The table, created (with its namespace) on first use."""
        namespace = name.rsplit(".", 1)[0]
        with contextlib.suppress(NamespaceAlreadyExistsError):
            catalog.create_namespace(namespace, {"owner": "mesh platform team"})
        # A log created before some columns existed gets them added (ensure_table), never rewritten.
        return cls(ensure_table(catalog, name, SCHEMA, DESCRIPTION), upkeep)

    @classmethod
    def load(cls, catalog: Catalog, name: str = TABLE) -> AuditTable:
        """The existing table (readers never create it): NoSuchTableError when there is none."""
        return cls(catalog.load_table(name))

    def refresh(self) -> None:
        self.table = self.table.refresh()

    def committed_offsets(self) -> Offsets:
        return committed_offsets(self.table)

    def head(self) -> ChainHead:
        """The last committed record's sequence and hash (the genesis for an empty log)."""
        sequences = self.table.scan(selected_fields=("sequence",)).to_arrow().column("sequence")
        if len(sequences) == 0:
            return ChainHead()
        last = pc.max(sequences).as_py()
        found = self._records(_equal("sequence", last))
        return ChainHead.after(found[-1])

    def append(self, records: Sequence[AuditRecord], offsets: Offsets, batch_at: str) -> Commit:
        rows = pa.Table.from_pylist([_row(r) for r in records], schema=self._arrow)
        commit = append_with_offsets(self.table, rows, offsets, batch_at)
        self.upkeep.after_commit(self.table)  # old snapshots expired, small files compacted: same records
        return commit

    def records(self, after: int = 0) -> list[AuditRecord]:
        """Committed records with a sequence above `after`, in sequence order."""
        return self._records(_greater("sequence", after) if after else None)

    def record(self, sequence: int) -> AuditRecord | None:
        found = self._records(_equal("sequence", sequence))
        return found[0] if found else None

    def records_of(self, entity_key: str) -> list[AuditRecord]:
        return self._records(_equal("entity_key", entity_key))

    def _records(self, where: BooleanExpression | None) -> list[AuditRecord]:
        scan = self.table.scan(row_filter=where) if where is not None else self.table.scan()
        rows = scan.to_arrow().to_pylist()
        return sorted((AuditRecord.from_json(row) for row in rows), key=lambda r: r.sequence)


# pyiceberg's expression classes take their arguments positionally at run time; its annotations do not say so.
def _equal(column: str, value: object) -> BooleanExpression:
    return EqualTo(column, value)  # type: ignore[call-arg,arg-type]


def _greater(column: str, value: object) -> BooleanExpression:
    return GreaterThan(column, value)  # type: ignore[call-arg,arg-type]


def _row(record: AuditRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in SCHEMA.column_names}
