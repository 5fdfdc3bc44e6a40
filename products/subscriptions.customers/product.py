"""subscriptions.customers: the domain logic. The platform captures, orders, deduplicates and keeps
the current state; this says what a customer change is made of."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh_sdk import BatchContext, parse_timestamp


def transform(change: Mapping[str, Any], batch: BatchContext) -> Mapping[str, Any]:
    """One captured change of a customers row becomes one history row: the row as it is after the
    change (as it was, for a deletion). The platform adds what happened, where and when (op, position,
    changed_at) and when it was ingested."""
    row = change["before"] if change["op"] == "d" else change["after"]
    return {
        **row,
        "created_at": parse_timestamp(row["created_at"]),
        "updated_at": parse_timestamp(row["updated_at"]),
    }
