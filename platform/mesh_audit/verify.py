"""`mesh audit verify`: recompute the chain from both stores and compare them record by record."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mesh_audit.chain import Break, ChainSummary, Reason, compare_stores, first_break, summarize, verify_chain
from mesh_audit.locked_store import ChainObject, LockedChainStore, ObjectContent
from mesh_audit.log_table import AuditTable
from mesh_audit.record import AuditRecord

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
