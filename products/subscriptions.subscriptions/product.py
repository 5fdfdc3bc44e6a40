"""subscriptions.subscriptions: the domain logic. The platform captures, orders, deduplicates and keeps
the current state; this says what a subscription change is made of."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh_sdk import BatchContext, parse_timestamp


def transform(change: Mapping[str, Any], batch: BatchContext) -> Mapping[str, Any]:
    """One captured change of a subscriptions row becomes one history row: the row after the change
    (before it, for a deletion). The platform adds what happened, where and when (op, position,
    changed_at) and when it was ingested."""
    row = change["before"] if change["op"] == "d" else change["after"]
    return {
        **row,
        "started_at": parse_timestamp(row["started_at"]),
        "cancelled_at": parse_timestamp(row["cancelled_at"]),
        "updated_at": parse_timestamp(row["updated_at"]),
    }
