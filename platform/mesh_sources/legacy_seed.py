"""The legacy monolith's starting data: plans, customers 1..N, one subscription each and their recent
payments. Pure and deterministic for a seed and a `now`, so tests check it without a database.

Customer ids and countries are those of `mesh_generate.playback_sessions.Population`: the people
watching in the playback telemetry are the people paying in the monolith."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from mesh_generate.playback_sessions import WORLD_SEED, Population
from mesh_sources import people

CUSTOMER_COLUMNS = (
    "customer_id",
    "email",
    "phone",
    "full_name",
    "country",
    "birth_year",
    "marketing_opt_in",
    "created_at",
    "updated_at",
)
SUBSCRIPTION_COLUMNS = (
    "subscription_id",
    "customer_id",
    "plan_id",
    "status",
    "started_at",
    "cancelled_at",
    "updated_at",
)
PAYMENT_COLUMNS = ("payment_id", "subscription_id", "amount_cents", "currency", "status", "paid_at")
PLAN_COLUMNS = ("plan_id", "code", "name", "monthly_cents", "currency", "max_streams", "active")

Row = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    plan_id: int
    code: str
    name: str
    monthly_cents: int
    currency: str
    max_streams: int

    def row(self) -> Row:
        return (self.plan_id, self.code, self.name, self.monthly_cents, self.currency, self.max_streams, True)


PLANS = (
    Plan(1, "basic", "Basic", 799, "EUR", 1),
    Plan(2, "standard", "Standard", 1299, "EUR", 2),
    Plan(3, "premium", "Premium", 1799, "EUR", 4),
    Plan(4, "family", "Family", 2199, "EUR", 6),
)
PLAN_WEIGHTS = (0.25, 0.40, 0.25, 0.10)  # in the order of PLANS
STATUS_WEIGHTS: dict[str, float] = {"active": 0.80, "trial": 0.06, "paused": 0.05, "cancelled": 0.09}
MARKETING_OPT_IN_SHARE = 0.35
HISTORY_DAYS = 4 * 365  # the oldest customers signed up this long ago
TRIAL_DAYS = 14
BILLING_DAYS = 30
KEPT_PAYMENTS = 6  # the monolith archives older payments: only the latest few are in its database
FAILED_SHARE = 0.025  # a failed charge, retried successfully two days later
REFUNDED_SHARE = 0.015


@dataclass(frozen=True)
class LegacySeed:
    """Rows per table, each in the column order of its `*_COLUMNS`."""

    plans: list[Row]
    customers: list[Row]
    subscriptions: list[Row]
    payments: list[Row]


def legacy_seed(customers: int, now: dt.datetime, seed: int = WORLD_SEED) -> LegacySeed:
    """Plans, customers 1..`customers` (countries from `Population.generate(customers, seed)`), one
    subscription per customer (subscription id = customer id) and a few payments each, dated before `now`."""
    population = Population.generate(customers, seed)
    rng = random.Random(f"legacy:{seed}")
    plan_ids = [p.plan_id for p in PLANS]
    price = {p.plan_id: p for p in PLANS}
    result = LegacySeed([p.row() for p in PLANS], [], [], [])
    payment_id = 0
    for customer_id in range(1, customers + 1):
        country = population.country_of(customer_id)
        name = people.full_name(rng, country)
        status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
        age_days = rng.uniform(0, TRIAL_DAYS) if status == "trial" else rng.uniform(1, HISTORY_DAYS)
        created = now - dt.timedelta(days=age_days)
        started = min(now, created + dt.timedelta(minutes=rng.uniform(1, 2 * 24 * 60)))
        # Paid up to `ended`: now for running subscriptions, the pause or cancellation otherwise.
        ended = now if status in ("active", "trial") else started + (now - started) * rng.random()
        profile_edited = created + (now - created) * rng.random() if rng.random() < 0.2 else created
        result.customers.append(
            (
                customer_id,
                people.email(rng, name, customer_id),
                people.phone(rng, country),
                name,
                country,
                people.birth_year(rng),
                rng.random() < MARKETING_OPT_IN_SHARE,
                created,
                profile_edited,
            )
        )
        plan = price[rng.choices(plan_ids, weights=PLAN_WEIGHTS)[0]]
        cancelled_at = ended if status == "cancelled" else None
        updated = ended if status in ("paused", "cancelled") else started
        result.subscriptions.append((customer_id, customer_id, plan.plan_id, status, started, cancelled_at, updated))
        if status == "trial":
            continue
        cycles = int((ended - started) / dt.timedelta(days=BILLING_DAYS)) + 1
        for cycle in range(max(0, cycles - KEPT_PAYMENTS), cycles):
            paid_at = started + dt.timedelta(days=cycle * BILLING_DAYS)
            draw = rng.random()
            outcomes = ["succeeded"]
            if draw < FAILED_SHARE:
                outcomes = ["failed", "succeeded"]
            elif draw < FAILED_SHARE + REFUNDED_SHARE:
                outcomes = ["refunded"]
            for attempt, outcome in enumerate(outcomes):
                payment_id += 1
                at = min(now, paid_at + dt.timedelta(days=2 * attempt))
                result.payments.append((payment_id, customer_id, plan.monthly_cents, plan.currency, outcome, at))
    return result
