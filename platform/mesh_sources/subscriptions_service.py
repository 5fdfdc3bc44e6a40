"""The subscriptions service: the greenfield system that takes subscriptions over from the legacy
monolith (the strangler fig, mesh_sources.strangler). Its own database; every change of a subscription
and the event that tells the world about it are written in one transaction (transactional outbox).

It runs the monolith's subscription operations with the same SQL (its tables have the monolith's
shape), and adds the events: SubscriptionStarted, SubscriptionChanged, SubscriptionEnded, and
SubscriptionMigrated when a subscription arrives from the monolith. Customers stay in the monolith."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from psycopg import sql

from mesh_sources import db
from mesh_sources.db import SeedReport
from mesh_sources.legacy_ops import OnSubscription, Outcome, RowKey, SignUp
from mesh_sources.legacy_seed import PAYMENT_COLUMNS, PLAN_COLUMNS, SUBSCRIPTION_COLUMNS
from mesh_sources.legacy_store import NotApplicable, PostgresLegacyStore

SCHEMA_FILE = "subscriptions_service.sql"
STARTED, CHANGED, ENDED, MIGRATED = (
    "SubscriptionStarted",
    "SubscriptionChanged",
    "SubscriptionEnded",
    "SubscriptionMigrated",
)
# A subscription as the service keeps it: the monolith's columns and how often it changed hands.
HELD_COLUMNS = (*SUBSCRIPTION_COLUMNS, "handover")
HELD = sql.SQL(", ").join(map(sql.Identifier, HELD_COLUMNS))
_SEED_LOCK = 0x73756273  # advisory lock: two installs at once copy the plans once

# One event per row. Each is deleted again in its transaction: the INSERT stays in the WAL for the
# outbox event router, the table stays empty (as Debezium recommends). Two statements, as a
# data-modifying WITH cannot delete the rows it inserts (they share one snapshot).
_PUBLISH = """
INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload)
SELECT gen_random_uuid(), 'subscription', s.subscription_id::text, %(type)s::text, (to_jsonb(s) - 'moved_to')::text
FROM subscriptions s WHERE s.subscription_id = ANY(%(ids)s)
RETURNING id
"""
_PUBLISH_GONE = """
INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload)
VALUES (gen_random_uuid(), 'subscription', %s, 'SubscriptionEnded', %s)
RETURNING id
"""
_CLEAR = "DELETE FROM outbox WHERE id = ANY(%s)"
_ROSTER = """
SELECT DISTINCT ON (customer_id) customer_id, subscription_id, plan_id, status
FROM subscriptions WHERE moved_to IS NULL AND customer_id %% 100 = ANY(%s)
ORDER BY customer_id, started_at DESC, subscription_id DESC
"""


def install_service(dsn: str, monolith_dsn: str) -> SeedReport:
    """Apply the service's schema and copy the monolith's plans (its reference data) once."""
    with db.connect(dsn) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK,))
        db.apply_schema(conn, SCHEMA_FILE)
        if conn.execute("SELECT EXISTS (SELECT 1 FROM plans)").fetchone() == (True,):
            return SeedReport(seeded=False)
        columns = ", ".join(PLAN_COLUMNS)
        with db.connect(monolith_dsn) as monolith:
            plans = monolith.execute(f"SELECT {columns} FROM plans ORDER BY plan_id").fetchall()
        if not plans:
            raise db.SourceUnavailable("the monolith has no plans yet: start it first (mesh cdc start legacy)")
        db.copy_rows(conn, "plans", PLAN_COLUMNS, plans)
        return SeedReport(seeded=True, rows={"plans": len(plans)})


class PostgresServiceStore(PostgresLegacyStore):
    """The service's side of the routing facade: subscription operations on its own tables, each with
    its events, one transaction each (see `attempt`)."""

    def roster_of(self, buckets: Sequence[int]) -> dict[int, tuple[int, int, str]]:
        """customer id -> (subscription id, plan id, status) of their latest subscription here."""
        rows = self._conn.execute(_ROSTER, (list(buckets),))
        return {int(c): (int(s), int(p), str(st)) for c, s, p, st in rows}

    def _on_subscription(self, action: OnSubscription) -> dict[RowKey, int]:
        changed = super()._on_subscription(action)
        if changed.get(("subscriptions", "update")):
            self.publish(CHANGED, [action.subscription_id])
        return changed

    def subscribe(self, action: SignUp, customer_id: int, subscription_id: int) -> Outcome:
        subscribed = super().subscribe(action, customer_id, subscription_id)
        self.publish(STARTED, [subscription_id])
        return subscribed

    def end_all(self, customer_id: int) -> Outcome:
        """An erasure: the customer's subscriptions (and their payments) go, each with its event."""
        gone = self._conn.execute(
            sql.SQL("DELETE FROM subscriptions WHERE customer_id = %s AND moved_to IS NULL RETURNING {}").format(HELD),
            (customer_id,),
        ).fetchall()
        events = []
        for row in gone:
            payload = dict(zip(HELD_COLUMNS, row, strict=True))
            published = self._conn.execute(_PUBLISH_GONE, (str(payload["subscription_id"]), _json(payload)))
            events += [r[0] for r in published]
        self._conn.execute(_CLEAR, (events,))
        return Outcome({("subscriptions", "delete"): len(gone)})

    def publish(self, event_type: str, subscription_ids: Iterable[int]) -> int:
        events = [r[0] for r in self._conn.execute(_PUBLISH, {"type": event_type, "ids": list(subscription_ids)})]
        if not events:
            raise NotApplicable
        self._conn.execute(_CLEAR, (events,))
        return len(events)


def _json(row: Mapping[str, Any]) -> str:
    """A row as the outbox carries it: what to_jsonb makes of it (ISO timestamps with their offset)."""
    return json.dumps({k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()})


__all__ = [
    "HELD",
    "HELD_COLUMNS",
    "PAYMENT_COLUMNS",
    "SUBSCRIPTION_COLUMNS",
    "PostgresServiceStore",
    "install_service",
]
