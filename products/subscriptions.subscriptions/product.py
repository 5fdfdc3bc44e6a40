"""subscriptions.subscriptions: the domain logic. The platform captures, orders, deduplicates and keeps
the current state; this says what a subscription change is made of, and which system it belongs to.

Subscriptions are moving from the legacy monolith to the subscriptions service, customer by customer
(the strangler fig: mesh_sources.strangler). Each subscription is owned by one system at a time: the
monolith's changes count until the subscription moves, the service's events after. A move is no change
of the subscription: the monolith's mark on the row it handed over, the service's SubscriptionMigrated
and a copy handed back are passed by. A change's position counts the handovers first, so that whatever
order the two inputs are read in, a later owner's change is the newer one. When the migration finishes,
the monolith's last word retires its input port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh_sdk import END_OF_INPUT, SKIP, BatchContext, Skip, parse_timestamp

HANDOVER_SHIFT = 48  # position = handovers << 48 | the position in the owning system's log
SERVICE_EVENTS = {"SubscriptionStarted": "c", "SubscriptionChanged": "u", "SubscriptionEnded": "d"}
MIGRATED = "SubscriptionMigrated"
MONOLITH_RETIRED = "subscriptions-service; monolith retired"  # its last word: `mesh migrate ... finish`
COLUMNS = ("subscription_id", "customer_id", "plan_id", "status")


def transform(change: Mapping[str, Any], batch: BatchContext) -> Mapping[str, Any] | Skip:
    """One change becomes one history row: the row after it (before it, for a deletion). The platform
    adds when it was committed and ingested."""
    if change["event_type"] is None:
        return _from_monolith(change)
    return _from_service(change)


def _from_monolith(change: Mapping[str, Any]) -> Mapping[str, Any] | Skip:
    op, before, after = change["op"], change["before"] or {}, change["after"] or {}
    row = before if op == "d" else after
    if op == "u" and after.get("moved_to") == MONOLITH_RETIRED:
        return END_OF_INPUT  # the migration finished: every change the monolith made is behind us
    if row.get("moved_to") is not None:
        return SKIP  # the service owns it: the monolith marking it moved, or deleting its old copy
    if op == "u" and (before.get("handover") or 0) != (after.get("handover") or 0):
        return SKIP  # handed back by the service (a rollback): the service's events had the changes
    if op in ("c", "r") and (row.get("handover") or 0) > 0:
        return SKIP  # started in the service and handed back
    return {"op": op, **_subscription(row, change["position"])}


def _from_service(change: Mapping[str, Any]) -> Mapping[str, Any] | Skip:
    kind = change["event_type"]
    if kind == MIGRATED:
        return SKIP  # arrived from the monolith as it was: the monolith's changes had it all
    if kind not in SERVICE_EVENTS:
        raise ValueError(f"unknown subscription event {kind!r}; expected one of {sorted(SERVICE_EVENTS)}")
    return {"op": SERVICE_EVENTS[kind], **_subscription(change["after"], change["position"])}


def _subscription(row: Mapping[str, Any], position: int) -> dict[str, Any]:
    return {
        **{column: row[column] for column in COLUMNS},
        "started_at": parse_timestamp(row["started_at"]),
        "cancelled_at": parse_timestamp(row["cancelled_at"]),
        "updated_at": parse_timestamp(row["updated_at"]),
        "position": (row.get("handover") or 0) << HANDOVER_SHIFT | position,
    }
