"""The strangler fig's routing, decided without a database: customers fall into BUCKETS buckets by
their id, a bucket is owned by the monolith or by the subscriptions service, and a migration step moves
whole buckets until the share asked for is reached (customer by customer, a hundredth at a time).

Buckets rather than a row per customer: a customer who signs up during the migration is routed by the
same rule as everyone else, and a step moves a known share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

BUCKETS = 100
MONOLITH, SERVICE = "monolith", "service"
OWNERS = (MONOLITH, SERVICE)


def bucket_of(customer_id: int) -> int:
    return customer_id % BUCKETS


@dataclass(frozen=True)
class Routes:
    """Who owns each bucket."""

    owners: Mapping[int, str]

    def __post_init__(self) -> None:
        if sorted(self.owners) != list(range(BUCKETS)):
            raise ValueError(f"routes must name an owner for each of the {BUCKETS} buckets")
        unknown = set(self.owners.values()) - set(OWNERS)
        if unknown:
            raise ValueError(f"unknown owners {sorted(unknown)}: expected {MONOLITH} or {SERVICE}")

    def owner(self, customer_id: int) -> str:
        return self.owners[bucket_of(customer_id)]

    def owned_by(self, owner: str) -> list[int]:
        return [b for b in range(BUCKETS) if self.owners[b] == owner]

    @property
    def percent_moved(self) -> int:
        return len(self.owned_by(SERVICE)) * 100 // BUCKETS


def buckets_to_move(routes: Routes, percent: int) -> list[int]:
    """The buckets a step to `percent` % moves to the service, lowest first; none if it is there already.
    A step never moves buckets back: that is a rollback."""
    if not 0 <= percent <= 100:
        raise ValueError(f"a step goes to a share between 0 and 100 %, not {percent}")
    wanted = percent * BUCKETS // 100
    moved = routes.owned_by(SERVICE)
    if wanted <= len(moved):
        return []
    return routes.owned_by(MONOLITH)[: wanted - len(moved)]


def transaction_id(bucket: int, to: str, attempt: str) -> str:
    """The two-phase commit's global id: it says what the prepared transaction was for, so a later run
    can finish or undo one a crash left behind (see `recovered`)."""
    return f"strangler:{bucket}:{to}:{attempt}"


def recovered(gid: str) -> tuple[int, str] | None:
    """(bucket, owner it was moving to) of a strangler transaction id; None for someone else's."""
    parts = gid.split(":")
    if len(parts) != 4 or parts[0] != "strangler" or parts[2] not in OWNERS or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2]


def resolution(gid: str, routes: Routes) -> str | None:
    """What to do with a prepared transaction a crash left: `commit` when the service's route says the
    move happened (the decision is the route's flip), `rollback` when it does not, None if not ours."""
    found = recovered(gid)
    if found is None:
        return None
    bucket, to = found
    return "commit" if routes.owners[bucket] == to else "rollback"
