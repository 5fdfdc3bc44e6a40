"""Change events from operational databases, in one shape whatever the capture style.

A product's logic receives a `change` mapping:
    op            c (insert), u (update), d (delete) or r (a row read by the initial snapshot)
    before/after  the row before and after (None where it does not exist)
    table         the source table (or the outbox's aggregate type)
    position      where the change sits in the source's log (PostgreSQL LSN), for ordering
    committed_at  when the source committed it (UTC)
    event_id, event_type  for outbox events: the event's id and type (None for table changes)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

OPERATIONS = frozenset("curd")


class UnexpectedChange(ValueError):
    """A readable event this input port does not capture (another table, an unknown operation)."""


def captured_table(topic: str) -> str:
    """`cdc.<database>.<schema>.<table>` -> table; `cdc.<database>.outbox.<aggregate>` -> aggregate."""
    return topic.rsplit(".", 1)[-1]


def _utc_millis(millis: int | None) -> datetime | None:
    return None if millis is None else datetime.fromtimestamp(millis / 1000, UTC)


def from_debezium(envelope: Mapping[str, Any], expected_table: str) -> dict[str, Any]:
    """A Debezium row-change envelope {before, after, source, op, ts_ms}."""
    try:
        op, source = envelope["op"], envelope["source"]
    except (KeyError, TypeError):
        raise UnexpectedChange("not a Debezium change event: no `op` or `source`") from None
    if op not in OPERATIONS:
        raise UnexpectedChange(f"unknown operation {op!r} (expected one of c, u, r, d)")
    table = source.get("table")
    if table != expected_table:
        raise UnexpectedChange(
            f"an event for table {source.get('schema')}.{table} arrived on the input for {expected_table}; "
            "this port does not capture that table"
        )
    image = envelope["after"] if op != "d" else envelope["before"]
    if image is None:
        raise UnexpectedChange(f"a {op!r} event without its row image (is REPLICA IDENTITY FULL set?)")
    return {
        "op": op,
        "before": envelope.get("before"),
        "after": envelope.get("after"),
        "table": table,
        "position": source.get("lsn"),
        "committed_at": _utc_millis(source.get("ts_ms")),
        "event_id": None,
        "event_type": None,
    }


def from_outbox(
    payload: Any,
    headers: Sequence[tuple[str, bytes | None]] | None,
    expected_aggregate: str,
    offset: int,
    timestamp_ms: int | None,
) -> dict[str, Any]:
    """An event the outbox event router published: the payload is the aggregate's new state (JSON).
    The router stamps the message with the source's commit time; the offset orders the events."""
    meta = {k: (v or b"").decode() for k, v in headers or []}
    if not isinstance(payload, str):
        raise UnexpectedChange("an outbox event's payload must be JSON text")
    try:
        state = json.loads(payload)
    except ValueError as exc:
        raise UnexpectedChange(f"the outbox payload is not JSON: {exc}") from None
    if not isinstance(state, dict):
        raise UnexpectedChange("the outbox payload is not a JSON object")
    if "id" not in meta or "type" not in meta:
        raise UnexpectedChange("an outbox event without its `id` and `type` headers")
    return {
        "op": "c",
        "before": None,
        "after": state,
        "table": expected_aggregate,
        "position": offset,
        "committed_at": _utc_millis(timestamp_ms),
        "event_id": meta["id"],
        "event_type": meta["type"],
    }


def parse_timestamp(value: str | None) -> datetime | None:
    """Debezium's ZonedTimestamp text (ISO-8601, `Z` for UTC) as an aware datetime."""
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_date(value: int | None) -> date | None:
    """Debezium's Date (a PostgreSQL date as days since 1970-01-01) as a date."""
    if value is None:
        return None
    return _EPOCH + timedelta(days=value)


_EPOCH = date(1970, 1, 1)
