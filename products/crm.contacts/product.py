"""crm.contacts: the domain logic. The platform captures, orders, deduplicates and keeps the current
state; this says what a contact change is made of."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh_sdk import BatchContext, parse_date, parse_timestamp


def transform(change: Mapping[str, Any], batch: BatchContext) -> Mapping[str, Any]:
    """One captured change of a contacts row becomes one history row: the row as the CRM holds it after
    the change (as it was, for an erasure), typed as the agent typed it."""
    row = change["before"] if change["op"] == "d" else change["after"]
    return {
        **row,
        "birth_date": parse_date(row["birth_date"]),
        "created_at": parse_timestamp(row["created_at"]),
        "updated_at": parse_timestamp(row["updated_at"]),
    }
