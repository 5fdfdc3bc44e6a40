"""`mesh audit verify`: recompute the chain from both stores and compare them record by record."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mesh_audit.chain import Break, ChainSummary, Reason, compare_stores, first_break, summarize, verify_chain
from mesh_audit.locked_store import ChainObject, LockedChainStore, ObjectContent
from mesh_audit.log_table import AuditTable
from mesh_audit.record import AuditRecord
from mesh_config import MeshSettings

TABLE_STORE = "iceberg"
OBJECT_STORE = "objects"


@dataclass(frozen=True)
class VerifyReport:
    summary: ChainSummary
    table_records: int
    object_records: int
    objects: int
    broken: Break | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def _flatten(contents: list[ObjectContent]) -> tuple[list[AuditRecord], list[str | None], list[Break]]:
    records: list[AuditRecord] = []
    locations: list[str | None] = []
    unreadable: list[Break] = []
    for content in contents:
        if content.error is not None:
            unreadable.append(
                Break(
                    content.obj.first,
                    OBJECT_STORE,
                    Reason.UNREADABLE,
                    "JSON lines of audit records",
                    f"an object that {content.error}",
                    content.obj.key,
                )
            )
        records.extend(content.records)
        locations.extend([content.obj.key] * len(content.records))
    return records, locations, unreadable


def _tail_in_flight(broken: Break | None, objects_reach: int) -> bool:
    """The table is ahead of the bucket only at its end: the service writes an object right after
    each commit, so a running service's newest batch may be committed and not yet locked."""
    return (
        broken is not None
        and broken.reason is Reason.MISSING
        and broken.store == OBJECT_STORE
        and broken.sequence > objects_reach
    )


def verify_stores(
    table: AuditTable,
    store: LockedChainStore,
    *,
    settle_s: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> VerifyReport:
    """Both stores' chains and their agreement. The bucket is read before the table (every object is
    written after its commit, so the table then holds everything the bucket does); a tail the bucket
    lacks is waited for up to `settle_s`, as the service may be writing it."""
    cache: dict[ChainObject, ObjectContent] = {}
    deadline = time.monotonic() + settle_s
    while True:
        listed = store.objects()
        fresh = [o for o in listed if o not in cache]
        for content in store.read_all(fresh):
            cache[content.obj] = content
        contents = [cache[o] for o in listed]
        table.refresh()
        table_records = table.records()
        object_records, locations, unreadable = _flatten(contents)
        reach = max((o.last for o in listed), default=0)
        cross = compare_stores(table_records, object_records, (TABLE_STORE, OBJECT_STORE), locations_b=locations)
        if not _tail_in_flight(cross, reach) or time.monotonic() >= deadline:
            break
        sleep(0.25)
    broken = first_break(
        verify_chain(table_records, TABLE_STORE),
        verify_chain(object_records, OBJECT_STORE, locations=locations),
        cross,
        *unreadable,
    )
    return VerifyReport(
        summary=summarize(table_records),
        table_records=len(table_records),
        object_records=len(object_records),
        objects=len(listed),
        broken=broken,
    )


@dataclass(frozen=True)
class BothCopies:
    """One record as each store holds it: what a broken link was, and what it was changed into."""

    sequence: int
    table: AuditRecord | None
    locked: AuditRecord | None
    location: str | None  # the locked object's key

    def differences(self) -> list[str]:
        """The fields in which the two copies differ (every field when only one store has the record)."""
        names = [f for f in AuditRecord.__dataclass_fields__]
        if self.table is None or self.locked is None:
            return names if (self.table or self.locked) else []
        return [n for n in names if getattr(self.table, n) != getattr(self.locked, n)]


def both_copies(table: AuditTable, store: LockedChainStore, sequence: int) -> BothCopies:
    table.refresh()
    in_table = table.record(sequence)
    holding = [o for o in store.objects() if o.first <= sequence <= o.last]
    locked, location = None, None
    for content in store.read_all(holding):
        found = next((r for r in content.records if r.sequence == sequence), None)
        if found is not None:
            locked, location = found, content.obj.key
    return BothCopies(sequence, in_table, locked, location)


def open_stores(
    settings: MeshSettings, table: str | None = None, prefix: str | None = None
) -> tuple[AuditTable, LockedChainStore]:
    """The log's two stores as configured (NoSuchTableError when the log was never started)."""
    from mesh_adapters.lakehouse import iceberg_catalog
    from mesh_adapters.s3 import s3_client
    from mesh_audit.config import load_options

    options = load_options(table=table, object_prefix=prefix)
    log_table = AuditTable.load(iceberg_catalog(settings), options.table)
    store = LockedChainStore(s3_client(settings), settings.audit_bucket, options.object_prefix, options.retention)
    return log_table, store
