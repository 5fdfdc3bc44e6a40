"""The audit-log browser behind the portal: pages of the immutable change audit log (mesh_audit's
append-only Iceberg table), newest first, filtered by entity key or source, each record checked where
it stands: its hash recomputed, and its link to the record before it.

The full proof across both stores (the table and the Object Lock bucket) stays `mesh audit verify`;
a page only says whether the records it shows are intact and linked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from mesh_audit.record import GENESIS, AuditRecord


class AuditUnavailable(Exception):
    """The audit log cannot be read; the message says why and what to run."""


@dataclass(frozen=True)
class CheckedRecord:
    record: AuditRecord
    intact: bool  # its hash is the hash of its content and prev_hash
    linked: bool | None  # its prev_hash is the hash of the record before it (None: that one is not on the page)


@dataclass(frozen=True)
class AuditPage:
    records: list[CheckedRecord]  # newest first
    total: int  # records in the log (matching the filters)
    head_sequence: int  # the newest record's sequence in the whole log
    older: int | None  # `before` for the next, older page; None on the last page

    @property
    def all_intact(self) -> bool:
        return all(r.intact and r.linked is not False for r in self.records)


class AuditLog(Protocol):
    def records(self) -> list[AuditRecord]:
        """Every committed record, in sequence order; raises AuditUnavailable."""
        ...


def audit_page(
    records: list[AuditRecord],
    *,
    limit: int = 50,
    before: int | None = None,
    key: str | None = None,
    source: str | None = None,
) -> AuditPage:
    """One page of `records` (in sequence order), the newest first. Pure."""
    by_sequence = {r.sequence: r for r in records}
    chosen = [
        r
        for r in records
        if (key is None or r.entity_key == key)
        and (source is None or r.source == source)
        and (before is None or r.sequence < before)
    ]
    total = sum(1 for r in records if (key is None or r.entity_key == key) and (source is None or r.source == source))
    page = chosen[-limit:][::-1]
    checked = []
    for r in page:
        previous = by_sequence.get(r.sequence - 1)
        linked: bool | None
        if r.sequence == 1:
            linked = r.prev_hash == GENESIS
        else:
            linked = None if previous is None else previous.hash == r.prev_hash
        checked.append(CheckedRecord(r, r.expected_hash() == r.hash, linked))
    older = page[-1].sequence if page and len(chosen) > limit else None
    return AuditPage(checked, total, records[-1].sequence if records else 0, older)


class IcebergAuditLog:
    """The audit log's Iceberg table (`load_table` returns a mesh_audit.log_table.AuditTable), read again
    only when it has a new snapshot."""

    def __init__(self, load_table: Callable[[], Any]) -> None:
        self._load = load_table
        self._cached: tuple[int | None, list[AuditRecord]] | None = None

    def records(self) -> list[AuditRecord]:
        from pyiceberg.exceptions import NoSuchTableError

        try:
            table = self._load()
            current = table.table.current_snapshot()
            snapshot = current.snapshot_id if current is not None else None
            if self._cached is None or self._cached[0] != snapshot:
                self._cached = (snapshot, list(table.records()))
        except NoSuchTableError:
            raise AuditUnavailable("the audit log has no table yet: start it with `mesh audit run`") from None
        except Exception as exc:
            raise AuditUnavailable(f"the audit log cannot be read: {exc}") from None
        return self._cached[1]
