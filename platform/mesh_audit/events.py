"""What a decoded message says changed. Pure: decoded keys and values in, `Change` out.

Two kinds of input: CDC topics (Debezium envelopes, or outbox events without before/after) and the
products' change streams (rows, optionally carrying their own op/before/after)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mesh_audit.record import UNREADABLE, Change, canonical_json, digest, payload_ref, raw_digest

OUTBOX_TYPE_HEADER = "type"


@dataclass(frozen=True)
class Coordinates:
    """Where a message sits in Kafka, and the broker's timestamp of it."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime | None = None

    @property
    def ref(self) -> str:
        return payload_ref(self.topic, self.partition, self.offset)


def from_millis(ms: Any) -> datetime | None:
    """Epoch milliseconds as a UTC time; None for anything that is not a representable time."""
    if isinstance(ms, bool) or not isinstance(ms, int | float):
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def entity_key(key: Any) -> str | None:
    """A key as text: a record's values joined by "|" in field order (a composite primary key)."""
    if key is None:
        return None
    if isinstance(key, Mapping):
        return "|".join("" if v is None else str(v) for v in key.values())
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    return str(key)


def is_envelope(value: Any) -> bool:
    return isinstance(value, Mapping) and ("before" in value or "after" in value)


def _source_table(source: Any) -> str | None:
    if not isinstance(source, Mapping):
        return None
    parts = [source.get("db"), source.get("schema"), source.get("table")]
    if all(p is None for p in parts):
        return None
    return ".".join("" if p is None else str(p) for p in parts)


def _outbox_payload(value: Any) -> Any:
    """An outbox event's payload: JSON text is parsed, so its digest does not depend on its spacing."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def cdc_change(at: Coordinates, key: Any, value: Any, headers: Mapping[str, bytes]) -> Change:
    """A Debezium change event, or an outbox event (a payload without before/after)."""
    if is_envelope(value):
        source = value.get("source")
        occurred = (
            from_millis(source.get("ts_ms") if isinstance(source, Mapping) else None)
            or from_millis(value.get("ts_ms"))
            or at.timestamp
        )
        return Change(
            occurred_at=occurred,
            source=at.topic,
            source_table=_source_table(source),
            entity_key=entity_key(key),
            operation=str(value.get("op") or "c"),
            before_digest=digest(value.get("before")),
            after_digest=digest(value.get("after")),
            payload_ref=at.ref,
        )
    kind = headers.get(OUTBOX_TYPE_HEADER)
    return Change(
        occurred_at=at.timestamp,
        source=at.topic,
        source_table=None,
        entity_key=entity_key(key),
        operation=kind.decode("utf-8", errors="replace") if kind else "c",
        before_digest=None,
        after_digest=digest(_outbox_payload(value)),
        payload_ref=at.ref,
    )


def stream_change(at: Coordinates, key: str | None, row: Any) -> Change:
    """A row of a product's change stream: its own op/before/after when it has them, else an insert."""
    if is_envelope(row):
        before, after = row.get("before"), row.get("after")
    else:
        before, after = None, row
    op = row.get("op") if isinstance(row, Mapping) else None
    return Change(
        occurred_at=at.timestamp,
        source=at.topic,
        source_table=None,
        entity_key=key,
        operation=str(op) if op is not None else "c",
        before_digest=digest(before),
        after_digest=digest(after),
        payload_ref=at.ref,
    )


def access_change(at: Coordinates, event: Mapping[str, Any]) -> Change:
    """A data access on a product's port (mesh_sdk.access.gate): who (the entity), which product and port,
    allowed (read) or refused (denied), and in `detail` the rows, the purposes and the reason."""
    product, port, outcome = event["product"], event["port"], event["outcome"]
    if not all(isinstance(v, str) and v for v in (product, port, outcome)):
        raise ValueError("product, port and outcome must be text")
    detail = {k: event.get(k) for k in ("port", "resource", "rows", "pii", "purposes", "key_id", "status", "reason")}
    return Change(
        occurred_at=_parse_time(event.get("at")) or at.timestamp,
        source=at.topic,
        source_table=product,
        entity_key=event.get("consumer") or "(no identity)",
        operation=f"{outcome}:{port}",
        before_digest=None,
        after_digest=digest(event),
        payload_ref=at.ref,
        detail=canonical_json(detail),
    )


def _parse_time(text: Any) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return at if at.tzinfo else None


def unreadable_change(at: Coordinates, key: str | None, raw: bytes) -> Change:
    """A message that could not be decoded is still recorded: its raw bytes' digest proves what it was."""
    return Change(
        occurred_at=at.timestamp,
        source=at.topic,
        source_table=None,
        entity_key=key,
        operation=UNREADABLE,
        before_digest=None,
        after_digest=raw_digest(raw),
        payload_ref=at.ref,
    )
