"""The legacy monolith's database side of the workload: each action is one transaction, and its row
counts come from PostgreSQL itself (row counts of each statement; for an erasure, the rows the cascade
is about to delete, counted under lock), so they match the change events CDC captures exactly."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import LiteralString, TypeVar

import psycopg
from psycopg.rows import TupleRow

from mesh_sources import db
from mesh_sources.legacy_ops import (
    Action,
    Cancel,
    ChangePlan,
    ConvertTrial,
    EditProfile,
    Erase,
    FailedPayment,
    MonthlyPayment,
    OnSubscription,
    Outcome,
    Pause,
    Refund,
    Resume,
    RetryPayment,
    Roster,
    RowKey,
    SignUp,
    Subscriber,
)

# The id sequences (see `db.ensure_id_sequence`): named as a `serial` column's would be.
ID_SEQUENCES = (
    ("customers_customer_id_seq", "customers", "customer_id"),
    ("subscriptions_subscription_id_seq", "subscriptions", "subscription_id"),
    ("payments_payment_id_seq", "payments", "payment_id"),
)

# A payment for the subscription's current plan, if the subscription is in the status given.
_CHARGE = """
INSERT INTO payments (payment_id, subscription_id, amount_cents, currency, status, paid_at)
SELECT nextval('payments_payment_id_seq'), s.subscription_id, p.monthly_cents, p.currency, %(outcome)s::text, now()
FROM subscriptions s JOIN plans p USING (plan_id)
WHERE s.subscription_id = %(subscription_id)s AND s.status = %(status)s::text
"""
_SET_STATUS = """
UPDATE subscriptions SET status = %(to)s::text, updated_at = now(),
    cancelled_at = CASE WHEN %(to)s::text = 'cancelled' THEN now() ELSE cancelled_at END
WHERE subscription_id = %(subscription_id)s AND status = ANY(%(from)s::text[])
"""
_REFUND = """
UPDATE payments SET status = 'refunded'
WHERE payment_id = (
    SELECT payment_id FROM payments
    WHERE subscription_id = %s AND status = 'succeeded' AND amount_cents > 0
    ORDER BY paid_at DESC, payment_id DESC LIMIT 1 FOR UPDATE
)
"""
_ROSTER = """
SELECT DISTINCT ON (c.customer_id) c.customer_id, s.subscription_id, s.plan_id, s.status, c.full_name, c.country
FROM customers c JOIN subscriptions s USING (customer_id)
ORDER BY c.customer_id, s.started_at DESC, s.subscription_id DESC
"""


T = TypeVar("T")


class NotApplicable(Exception):
    """The action's precondition no longer holds: roll the transaction back."""


class PostgresLegacyStore:
    """A `LegacyStore` on one autocommit connection: every action runs in its own transaction block."""

    def __init__(self, conn: psycopg.Connection[TupleRow]) -> None:
        self._conn = conn

    @classmethod
    def open(cls, dsn: str) -> PostgresLegacyStore:
        return cls(db.connect(dsn, autocommit=True))

    def close(self) -> None:
        self._conn.close()

    def plan_ids(self) -> list[int]:
        return [row[0] for row in self._conn.execute("SELECT plan_id FROM plans WHERE active ORDER BY plan_id")]

    def roster(self) -> Roster:
        return Roster(Subscriber(*row) for row in self._conn.execute(_ROSTER))

    def names_of(self, buckets: Sequence[int]) -> dict[int, tuple[str, str]]:
        """customer id -> (full name, country) of the customers in the buckets (customer_id % 100)."""
        rows = self._conn.execute(
            "SELECT customer_id, full_name, country FROM customers WHERE customer_id %% 100 = ANY(%s)", (list(buckets),)
        )
        return {int(c): (str(n), str(k)) for c, n, k in rows}

    def execute(self, action: Action) -> Outcome | None:
        return self.attempt(lambda: self._run(action))

    def attempt(self, work: Callable[[], T]) -> T | None:
        """Run `work` in one transaction; None (and nothing written) when it no longer applies."""
        try:
            with self._conn.transaction():
                return work()
        except (
            NotApplicable,
            psycopg.errors.IntegrityError,
            psycopg.errors.TransactionRollback,
            psycopg.errors.LockNotAvailable,
        ):
            # Rolled back, nothing written. Integrity errors and deadlocks come from writers racing
            # this one (another workload on the same database, a subscription that moved to the
            # service, a customer being moved right now): the action simply did not happen.
            return None

    def new_ids(self) -> tuple[int, int]:
        """A new customer id and subscription id: the monolith numbers customers, wherever they subscribe."""
        row = self._conn.execute(
            "SELECT nextval('customers_customer_id_seq'), nextval('subscriptions_subscription_id_seq')"
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def _run(self, action: Action) -> Outcome:
        match action:
            case SignUp():
                return self._sign_up(action)
            case EditProfile():
                return self._edit_profile(action)
            case Erase():
                return self._erase(action.customer_id)
            case OnSubscription():
                return Outcome(self._on_subscription(action))
        raise TypeError(f"not an action: {action!r}")

    def rowcount(self, query: LiteralString, params: Sequence[object] | Mapping[str, object]) -> int:
        """Run one statement; none of its rows matched means the action no longer applies."""
        cursor = self._conn.execute(query, params)
        if cursor.rowcount < 1:
            raise NotApplicable
        return cursor.rowcount

    def _charge(self, subscription_id: int, outcome: str = "succeeded", status: str = "active") -> int:
        params = {"subscription_id": subscription_id, "outcome": outcome, "status": status}
        return self.rowcount(_CHARGE, params)

    def _set_status(self, subscription_id: int, to: str, *from_: str) -> int:
        return self.rowcount(_SET_STATUS, {"subscription_id": subscription_id, "to": to, "from": list(from_)})

    def _on_subscription(self, action: OnSubscription) -> dict[RowKey, int]:
        sid = action.subscription_id
        updated = inserted = 0
        match action:
            case ConvertTrial():
                updated = self._set_status(sid, "active", "trial")
                inserted = self._charge(sid)
            case ChangePlan():
                updated = self.rowcount(
                    "UPDATE subscriptions SET plan_id = %s, updated_at = now() "
                    "WHERE subscription_id = %s AND status = 'active' AND plan_id <> %s",
                    (action.plan_id, sid, action.plan_id),
                )
                inserted = self._charge(sid)
            case Pause():
                updated = self._set_status(sid, "paused", "active")
            case Resume():
                updated = self._set_status(sid, "active", "paused")
                inserted = self._charge(sid)
            case Cancel():
                updated = self._set_status(sid, "cancelled", "trial", "active", "paused")
            case MonthlyPayment() | RetryPayment():
                inserted = self._charge(sid)
            case FailedPayment():
                inserted = self._charge(sid, outcome="failed")
            case Refund():
                return {("payments", "update"): self.rowcount(_REFUND, (sid,))}
            case _:
                raise TypeError(f"unknown subscription action: {action!r}")
        return {("subscriptions", "update"): updated, ("payments", "insert"): inserted}

    def _sign_up(self, action: SignUp, ids: tuple[int, int] | None = None) -> Outcome:
        customer_id, subscription_id = ids or self.new_ids()
        self.add_customer(action, customer_id)
        subscribed = self.subscribe(action, customer_id, subscription_id)
        return replace(subscribed, rows={("customers", "insert"): 1, **subscribed.rows})

    def sign_up(self, action: SignUp, ids: tuple[int, int]) -> Outcome | None:
        return self.attempt(lambda: self._sign_up(action, ids))

    def add_customer(self, action: SignUp, customer_id: int) -> int:
        return self.rowcount(
            "INSERT INTO customers (customer_id, email, phone, full_name, country, birth_year, marketing_opt_in) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                customer_id,
                action.email_template.format(customer_id),
                action.phone,
                action.full_name,
                action.country,
                action.birth_year,
                action.marketing_opt_in,
            ),
        )

    def subscribe(self, action: SignUp, customer_id: int, subscription_id: int) -> Outcome:
        """The sign-up's subscription and its first payment."""
        self.rowcount(
            "INSERT INTO subscriptions (subscription_id, customer_id, plan_id, status, started_at) "
            "VALUES (%s, %s, %s, %s, now())",
            (subscription_id, customer_id, action.plan_id, "trial" if action.trial else "active"),
        )
        # The first payment: the first month, or a zero-amount check of the card for a trial.
        self.rowcount(
            "INSERT INTO payments (payment_id, subscription_id, amount_cents, currency, status, paid_at) "
            "SELECT nextval('payments_payment_id_seq'), %s::bigint, "
            "CASE WHEN %s::boolean THEN 0 ELSE monthly_cents END, currency, 'succeeded', now() "
            "FROM plans WHERE plan_id = %s",
            (subscription_id, action.trial, action.plan_id),
        )
        rows = {("subscriptions", "insert"): 1, ("payments", "insert"): 1}
        return Outcome(rows, customer_id=customer_id, subscription_id=subscription_id)

    def _edit_profile(self, action: EditProfile) -> Outcome:
        updated = self.rowcount(
            "UPDATE customers SET email = coalesce(%s, email), full_name = coalesce(%s, full_name), "
            "phone = coalesce(%s, phone), marketing_opt_in = (marketing_opt_in <> %s), updated_at = now() "
            "WHERE customer_id = %s",
            (action.email, action.full_name, action.phone, action.toggle_marketing_opt_in, action.customer_id),
        )
        return Outcome({("customers", "update"): updated})

    def _erase(self, customer_id: int) -> Outcome:
        """Lock the customer and their subscriptions first: nobody can add a subscription or a payment
        for them until the delete commits, so the rows counted are exactly the rows the cascade deletes."""
        conn = self._conn
        if conn.execute("SELECT 1 FROM customers WHERE customer_id = %s FOR UPDATE", (customer_id,)).fetchone() is None:
            raise NotApplicable
        subscriptions = [
            row[0]
            for row in conn.execute(
                "SELECT subscription_id FROM subscriptions WHERE customer_id = %s FOR UPDATE", (customer_id,)
            )
        ]
        counted = conn.execute(
            "SELECT count(*) FROM payments WHERE subscription_id = ANY(%s)", (subscriptions,)
        ).fetchone()
        assert counted is not None
        deleted = self.rowcount("DELETE FROM customers WHERE customer_id = %s", (customer_id,))
        rows = {
            ("customers", "delete"): deleted,
            ("subscriptions", "delete"): len(subscriptions),
            ("payments", "delete"): int(counted[0]),
        }
        return Outcome(rows)
