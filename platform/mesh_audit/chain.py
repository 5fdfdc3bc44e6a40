"""Proving the chain. Pure: given the records each store holds, find the first broken link.

Each store is checked on its own (a tamperer who rewrites one store consistently, re-hashing every
later record, still leaves it disagreeing with the other), then the two are compared record by record."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

from mesh_audit.record import AuditRecord, ChainHead


class Reason(StrEnum):
    HASH_MISMATCH = "hash mismatch"  # the record's content is not what its hash covers
    BROKEN_LINK = "broken prev link"  # prev_hash is not the previous record's hash
    SEQUENCE_GAP = "sequence gap"  # a sequence is missing from the store's chain
    REORDER = "sequence reorder"  # a sequence appears late, twice, or out of place
    MISSING = "missing record"  # one store has a record the other lacks
    DISAGREE = "stores disagree"  # both have the record, with different content
    UNREADABLE = "unreadable record"  # the stored bytes are not an audit record


# A chain's own break explains a disagreement at the same sequence better than the disagreement does.
_PRIORITY = {
    Reason.UNREADABLE: 0,
    Reason.HASH_MISMATCH: 1,
    Reason.REORDER: 2,
    Reason.SEQUENCE_GAP: 3,
    Reason.BROKEN_LINK: 4,
    Reason.MISSING: 5,
    Reason.DISAGREE: 6,
}


@dataclass(frozen=True)
class Break:
    sequence: int
    store: str
    reason: Reason
    expected: str
    found: str
    location: str | None = None  # where in the store, e.g. the object holding the record

    def describe(self) -> str:
        where = f" ({self.location})" if self.location else ""
        return (
            f"sequence {self.sequence} in {self.store}{where}: {self.reason.value}; "
            f"expected {self.expected}, found {self.found}"
        )


def verify_chain(
    records: Iterable[AuditRecord],
    store: str,
    *,
    start: ChainHead | None = None,
    locations: Sequence[str | None] | None = None,
) -> Break | None:
    """The first broken link of `records` taken in the order given (the store's own order), or None.

    `start` is the head the first record must follow (the genesis by default); `locations[i]` names
    where record i lives, for the report."""
    head = start or ChainHead()
    for i, record in enumerate(records):
        where = locations[i] if locations is not None else None
        expected_sequence = head.sequence + 1
        if record.sequence > expected_sequence:
            return Break(
                expected_sequence,
                store,
                Reason.SEQUENCE_GAP,
                f"sequence {expected_sequence} after {head.sequence}",
                f"sequence {record.sequence}: {record.sequence - expected_sequence} record(s) missing",
                where,
            )
        if record.sequence < expected_sequence:
            return Break(
                record.sequence,
                store,
                Reason.REORDER,
                f"sequence {expected_sequence} after {head.sequence}",
                f"sequence {record.sequence}",
                where,
            )
        recomputed = record.expected_hash()
        if record.hash != recomputed:
            return Break(
                record.sequence, store, Reason.HASH_MISMATCH, f"hash {recomputed}", f"hash {record.hash}", where
            )
        if record.prev_hash != head.hash:
            return Break(
                record.sequence,
                store,
                Reason.BROKEN_LINK,
                f"prev_hash {head.hash} (the hash of sequence {head.sequence})",
                f"prev_hash {record.prev_hash}",
                where,
            )
        head = ChainHead.after(record)
    return None


def _differences(a: AuditRecord, b: AuditRecord) -> list[str]:
    return [f.name for f in fields(AuditRecord) if getattr(a, f.name) != getattr(b, f.name)]


def compare_stores(
    a: Sequence[AuditRecord],
    b: Sequence[AuditRecord],
    names: tuple[str, str],
    *,
    locations_b: Sequence[str | None] | None = None,
) -> Break | None:
    """The first sequence at which two stores' records differ: present in one only, or different."""
    by_seq_a = {r.sequence: r for r in reversed(a)}  # the first occurrence wins
    by_seq_b = {r.sequence: (i, r) for i, r in reversed(list(enumerate(b)))}
    for sequence in sorted(by_seq_a.keys() | by_seq_b.keys()):
        in_a = by_seq_a.get(sequence)
        in_b = by_seq_b.get(sequence)
        if in_b is None:
            return Break(sequence, names[1], Reason.MISSING, f"the record {names[0]} holds", "nothing")
        index, record_b = in_b
        where = locations_b[index] if locations_b is not None else None
        if in_a is None:
            return Break(sequence, names[0], Reason.MISSING, f"the record {names[1]} holds", "nothing", where)
        differing = _differences(in_a, record_b)
        if differing:
            shown = ", ".join(differing)
            return Break(
                sequence,
                f"{names[0]} vs {names[1]}",
                Reason.DISAGREE,
                f"{shown} as in {names[0]}: " + ", ".join(repr(getattr(in_a, f)) for f in differing),
                f"in {names[1]}: " + ", ".join(repr(getattr(record_b, f)) for f in differing),
                where,
            )
    return None


def first_break(*breaks: Break | None) -> Break | None:
    """The earliest break; at one sequence, a store's own break before a disagreement between stores."""
    found = [b for b in breaks if b is not None]
    return min(found, key=lambda b: (b.sequence, _PRIORITY[b.reason])) if found else None


@dataclass(frozen=True)
class ChainSummary:
    records: int
    sources: dict[str, int]  # records per source topic
    first_sequence: int | None
    last_sequence: int | None
    first_recorded_at: datetime | None
    last_recorded_at: datetime | None
    first_occurred_at: datetime | None
    last_occurred_at: datetime | None


def summarize(records: Sequence[AuditRecord]) -> ChainSummary:
    sources: dict[str, int] = {}
    for r in records:
        sources[r.source] = sources.get(r.source, 0) + 1
    recorded = [r.recorded_at for r in records]
    occurred = [r.occurred_at for r in records if r.occurred_at is not None]
    return ChainSummary(
        records=len(records),
        sources=dict(sorted(sources.items())),
        first_sequence=min((r.sequence for r in records), default=None),
        last_sequence=max((r.sequence for r in records), default=None),
        first_recorded_at=min(recorded, default=None),
        last_recorded_at=max(recorded, default=None),
        first_occurred_at=min(occurred, default=None),
        last_occurred_at=max(occurred, default=None),
    )
