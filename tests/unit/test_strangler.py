"""The strangler fig's pure parts: which buckets a step moves, how a move a crash left half done is
decided, and how subscriptions.subscriptions owns each change from exactly one system."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mesh_sdk import SKIP, BatchContext
from mesh_sdk.spec.product import load_product
from mesh_sources.strangler_routes import (
    BUCKETS,
    MONOLITH,
    SERVICE,
    Routes,
    bucket_of,
    buckets_to_move,
    recovered,
    resolution,
    transaction_id,
)

REPO = Path(__file__).resolve().parents[2]
BATCH = BatchContext(ingested_at=datetime(2026, 12, 5, tzinfo=UTC))


def routes(moved: int = 0) -> Routes:
    return Routes({b: SERVICE if b < moved else MONOLITH for b in range(BUCKETS)})


def test_a_step_moves_the_lowest_buckets_still_on_the_monolith_and_never_moves_back() -> None:
    assert buckets_to_move(routes(), 10) == list(range(10))
    assert buckets_to_move(routes(10), 25) == list(range(10, 25))
    assert buckets_to_move(routes(30), 20) == [], "a smaller share is a rollback, not a step"
    assert routes(37).percent_moved == 37
    assert routes(37).owner(1_236) == SERVICE and routes(37).owner(1_299) == MONOLITH
    assert bucket_of(1_299) == 99
    with pytest.raises(ValueError, match="between 0 and 100"):
        buckets_to_move(routes(), 101)
    with pytest.raises(ValueError, match="each of the 100 buckets"):
        Routes({0: SERVICE})


def test_a_prepared_move_is_committed_when_the_route_flipped_and_rolled_back_when_not() -> None:
    gid = transaction_id(7, SERVICE, "abc")
    assert recovered(gid) == (7, SERVICE)
    assert resolution(gid, routes(8)) == "commit"
    assert resolution(gid, routes(7)) == "rollback"
    back = transaction_id(3, MONOLITH, "def")
    assert resolution(back, routes(3)) == "commit" and resolution(back, routes(4)) == "rollback"
    assert resolution("someone-elses-transaction", routes()) is None
    assert recovered("strangler:x:service:1") is None


# --- subscriptions.subscriptions: one owner per change ----------------------------------------------------

SUBSCRIPTION = {
    "subscription_id": 5,
    "customer_id": 105,
    "plan_id": 2,
    "status": "active",
    "started_at": "2026-01-01T00:00:00Z",
    "cancelled_at": None,
    "updated_at": "2026-12-05T01:00:00Z",
}


def transform(change: dict[str, Any]) -> Any:
    product = load_product(REPO / "products" / "subscriptions.subscriptions")
    return product.transform(change, BATCH)


def monolith(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, lsn: int = 900) -> dict[str, Any]:
    return {"op": op, "before": before, "after": after, "position": lsn, "event_type": None}


def service(kind: str, row: dict[str, Any], offset: int = 3) -> dict[str, Any]:
    return {"op": "c", "before": None, "after": row, "position": offset, "event_type": kind}


def test_the_monolith_counts_until_a_subscription_moves_and_the_service_after() -> None:
    plain = {**SUBSCRIPTION, "handover": None, "moved_to": None}
    row = transform(monolith("u", plain, {**plain, "status": "paused"}))
    assert (row["op"], row["status"], row["position"]) == ("u", "paused", 900), "never moved: the LSN itself"
    moved = {**plain, "handover": 1, "moved_to": "subscriptions-service"}
    assert transform(monolith("u", plain, moved)) is SKIP, "the monolith marking it moved is no change"
    assert transform(monolith("d", moved, None)) is SKIP, "nor deleting its old copy with the customer"
    assert transform(service("SubscriptionMigrated", {**SUBSCRIPTION, "handover": 1})) is SKIP
    changed = transform(service("SubscriptionChanged", {**SUBSCRIPTION, "handover": 1, "status": "cancelled"}))
    assert changed["op"] == "u" and changed["position"] == (1 << 48) + 3, "after a handover: newer than any LSN"
    ended = transform(service("SubscriptionEnded", {**SUBSCRIPTION, "handover": 1}, offset=4))
    assert ended["op"] == "d"


def test_a_subscription_handed_back_counts_from_the_monolith_again_without_repeating_the_move() -> None:
    away = {**SUBSCRIPTION, "handover": 1, "moved_to": "subscriptions-service"}
    back = {**SUBSCRIPTION, "handover": 2, "moved_to": None}
    assert transform(monolith("u", away, back)) is SKIP, "the copy handed back is no change"
    assert transform(monolith("c", None, {**back, "subscription_id": 9})) is SKIP, "nor one started in the service"
    later = transform(monolith("u", back, {**back, "status": "paused"}, lsn=1_000))
    assert later["position"] == (2 << 48) + 1_000


def test_an_event_of_an_unknown_kind_is_refused_with_the_kinds_it_knows() -> None:
    with pytest.raises(ValueError, match="SubscriptionStarted"):
        transform(service("SubscriptionTeleported", {**SUBSCRIPTION, "handover": 0}))


def test_the_monolith_s_last_word_retires_its_input() -> None:
    from mesh_sdk import END_OF_INPUT

    moved = {**SUBSCRIPTION, "handover": 1, "moved_to": "subscriptions-service"}
    last = {**moved, "moved_to": "subscriptions-service; monolith retired"}
    assert transform(monolith("u", moved, last)) is END_OF_INPUT
