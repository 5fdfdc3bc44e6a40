"""Audit records and the hash chain that links them. Pure: no I/O, no clock (times are passed in).

A record's hash covers the previous record's hash and every other field of its own, so changing,
removing or reordering any record breaks every link after it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # prev_hash of the first record
UNREADABLE = "unreadable"  # the operation of a message that could not be decoded

# Every field of a record, in the order of the table's columns and of the JSON-lines objects.
FIELDS = (
    "sequence",
    "recorded_at",
    "occurred_at",
    "source",
    "source_table",
    "entity_key",
    "operation",
    "before_digest",
    "after_digest",
    "payload_ref",
    "prev_hash",
    "hash",
)
# Fields added later: absent (None) from older records, whose hashes therefore stay what they were.
OPTIONAL_FIELDS = ("detail",)
_UNHASHED = ("prev_hash", "hash")


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no whitespace; types JSON lacks (bytes, Decimal, dates) as str."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def digest(value: Any) -> str | None:
    """The sha256 of a change image's canonical JSON; None stands for "no image" (the before of an insert)."""
    if value is None:
        return None
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def raw_digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def utc(at: datetime) -> datetime:
    # A naive time would silently take the machine's zone: refused.
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: audit times must carry their zone")
    return at.astimezone(UTC)


def format_time(at: datetime | None) -> str | None:
    """Microseconds, UTC, ISO 8601: what both stores keep, so the hash is the same when read back."""
    return None if at is None else utc(at).isoformat(timespec="microseconds")


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else utc(datetime.fromisoformat(text))


def payload_ref(topic: str, partition: int, offset: int) -> str:
    return f"kafka://{topic}/{partition}/{offset}"


@dataclass(frozen=True)
class Change:
    """One change, as read from its message, before it takes its place in the chain."""

    occurred_at: datetime | None
    source: str  # the topic
    source_table: str | None  # db.schema.table for CDC events
    entity_key: str | None
    operation: str
    before_digest: str | None
    after_digest: str | None
    payload_ref: str
    detail: str | None = None  # canonical JSON of what a change's digests cannot say (a data access's rows)


@dataclass(frozen=True)
class AuditRecord:
    sequence: int
    recorded_at: datetime
    occurred_at: datetime | None
    source: str
    source_table: str | None
    entity_key: str | None
    operation: str
    before_digest: str | None
    after_digest: str | None
    payload_ref: str
    prev_hash: str
    hash: str
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as JSON values, fields in column order (times as ISO 8601 text); an optional
        field only when it is set."""
        data = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in OPTIONAL_FIELDS or getattr(self, f.name) is not None
        }
        data["recorded_at"] = format_time(self.recorded_at)
        data["occurred_at"] = format_time(self.occurred_at)
        return data

    def hashed_content(self) -> dict[str, Any]:
        return {k: v for k, v in self.to_json().items() if k not in _UNHASHED}

    def expected_hash(self) -> str:
        """The hash this record should carry, given its own prev_hash."""
        return chain_hash(self.prev_hash, self.hashed_content())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditRecord:
        """Read a record back from JSON values (a JSON-lines object) or table rows (datetimes)."""
        missing = [name for name in FIELDS if name not in data]
        if missing:
            raise ValueError(f"not an audit record: missing {', '.join(missing)}")
        values = {name: data[name] for name in FIELDS} | {n: data.get(n) for n in OPTIONAL_FIELDS}
        for name in ("recorded_at", "occurred_at"):
            value = values[name]
            if isinstance(value, str):
                values[name] = parse_time(value)
            elif isinstance(value, datetime):
                values[name] = utc(value)
        if values["recorded_at"] is None:
            raise ValueError("not an audit record: recorded_at is empty")
        if not isinstance(values["sequence"], int) or isinstance(values["sequence"], bool):
            raise ValueError(f"not an audit record: sequence {values['sequence']!r} is not an integer")
        return cls(**values)


def chain_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(content)).encode()).hexdigest()


@dataclass(frozen=True)
class ChainHead:
    """Where the chain ends: the next record follows this sequence and links to this hash."""

    sequence: int = 0
    hash: str = GENESIS

    @classmethod
    def after(cls, record: AuditRecord | None) -> ChainHead:
        return cls() if record is None else cls(record.sequence, record.hash)


def link(change: Change, head: ChainHead, recorded_at: datetime) -> AuditRecord:
    """The record that appends `change` to the chain ending at `head`."""
    unsigned = AuditRecord(
        sequence=head.sequence + 1,
        recorded_at=utc(recorded_at),
        occurred_at=None if change.occurred_at is None else utc(change.occurred_at),
        source=change.source,
        source_table=change.source_table,
        entity_key=change.entity_key,
        operation=change.operation,
        before_digest=change.before_digest,
        after_digest=change.after_digest,
        payload_ref=change.payload_ref,
        prev_hash=head.hash,
        hash="",
        detail=change.detail,
    )
    return replace(unsigned, hash=unsigned.expected_hash())


def link_all(changes: Iterable[Change], head: ChainHead, recorded_at: datetime) -> list[AuditRecord]:
    """Records for `changes`, in order, continuing the chain from `head`."""
    records: list[AuditRecord] = []
    for change in changes:
        record = link(change, head, recorded_at)
        records.append(record)
        head = ChainHead.after(record)
    return records


def to_jsonl(records: Sequence[AuditRecord]) -> bytes:
    """A batch as JSON lines: one canonical record a line, in sequence order."""
    return "".join(canonical_json(r.to_json()) + "\n" for r in records).encode()


def from_jsonl(body: bytes) -> list[AuditRecord]:
    return [AuditRecord.from_json(json.loads(line)) for line in body.decode().splitlines() if line.strip()]
