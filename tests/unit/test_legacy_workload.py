"""The legacy monolith's seed data and workload, decided and counted without a server: an in-memory
store plays the database, with the same preconditions as the SQL."""

from __future__ import annotations

import datetime as dt
import random
import signal
import socket
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from mesh_cli.generate import generate_app
from mesh_generate.playback_sessions import Population
from mesh_sources import people
from mesh_sources.legacy import LegacyWorkload
from mesh_sources.legacy_ops import (
    OPERATION_WEIGHTS,
    Action,
    Cancel,
    ChangePlan,
    ConvertTrial,
    EditProfile,
    Erase,
    FailedPayment,
    LegacyPlanner,
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
from mesh_sources.legacy_seed import CUSTOMER_COLUMNS, PAYMENT_COLUMNS, PLANS, SUBSCRIPTION_COLUMNS, legacy_seed
from mesh_sources.running import run_workload

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
Record = dict[str, Any]


def records(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> list[Record]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


class MemoryStore:
    """The monolith's tables as dicts, with the preconditions of `PostgresLegacyStore` and its exact
    row counts; `changes` counts every row it changed, including deletes done behind the workload's back."""

    def __init__(self, customers: int = 300) -> None:
        seed = legacy_seed(customers, NOW)
        self.customers = {r["customer_id"]: r for r in records(CUSTOMER_COLUMNS, seed.customers)}
        self.subscriptions = {r["subscription_id"]: r for r in records(SUBSCRIPTION_COLUMNS, seed.subscriptions)}
        self.payments = {r["payment_id"]: r for r in records(PAYMENT_COLUMNS, seed.payments)}
        self.next_id = {"customers": customers + 1, "subscriptions": customers + 1, "payments": len(self.payments) + 1}
        self.changes: Counter[RowKey] = Counter()
        self.executed: list[Action] = []
        self.closed = False
        self.before_execute: Callable[[MemoryStore], None] = lambda store: None

    def plan_ids(self) -> list[int]:
        return [p.plan_id for p in PLANS]

    def roster(self) -> Roster:
        return Roster(
            Subscriber(s["customer_id"], s["subscription_id"], s["plan_id"], s["status"], c["full_name"], c["country"])
            for s in self.subscriptions.values()
            if (c := self.customers.get(s["customer_id"])) is not None
        )

    def close(self) -> None:
        self.closed = True

    def _new_id(self, table: str) -> int:
        self.next_id[table] += 1
        return self.next_id[table] - 1

    def erase(self, customer_id: int) -> Counter[RowKey]:
        rows: Counter[RowKey] = Counter({("customers", "delete"): 1})
        del self.customers[customer_id]
        for sid in [s for s, sub in self.subscriptions.items() if sub["customer_id"] == customer_id]:
            for pid in [p for p, pay in self.payments.items() if pay["subscription_id"] == sid]:
                del self.payments[pid]
                rows[("payments", "delete")] += 1
            del self.subscriptions[sid]
            rows[("subscriptions", "delete")] += 1
        self.changes.update(rows)
        return rows

    def _charge(self, sid: int, status: str = "succeeded") -> None:
        plan = PLANS[self.subscriptions[sid]["plan_id"] - 1]
        pid = self._new_id("payments")
        self.payments[pid] = {"payment_id": pid, "subscription_id": sid, "amount_cents": plan.monthly_cents}
        self.payments[pid] |= {"currency": plan.currency, "status": status}

    def execute(self, action: Action) -> Outcome | None:
        self.before_execute(self)
        self.executed.append(action)
        rows: Counter[RowKey] = Counter()
        if isinstance(action, SignUp):
            cid, sid = self._new_id("customers"), self._new_id("subscriptions")
            email = action.email_template.format(cid)
            assert email not in {c["email"] for c in self.customers.values()}
            self.customers[cid] = {"customer_id": cid, "email": email, "full_name": action.full_name}
            self.customers[cid] |= {"country": action.country}
            status = "trial" if action.trial else "active"
            self.subscriptions[sid] = {"subscription_id": sid, "customer_id": cid, "plan_id": action.plan_id}
            self.subscriptions[sid] |= {"status": status}
            self._charge(sid)
            rows.update({("customers", "insert"): 1, ("subscriptions", "insert"): 1, ("payments", "insert"): 1})
            self.changes.update(rows)
            return Outcome(rows, customer_id=cid, subscription_id=sid)
        if isinstance(action, Erase):
            return Outcome(self.erase(action.customer_id)) if action.customer_id in self.customers else None
        if isinstance(action, EditProfile):
            customer = self.customers.get(action.customer_id)
            if customer is None:
                return None
            customer["email"] = action.email or customer["email"]
            rows[("customers", "update")] = 1
            self.changes.update(rows)
            return Outcome(rows)
        assert isinstance(action, OnSubscription)
        sub = self.subscriptions.get(action.subscription_id)
        if sub is None:
            return None
        needs = {
            ConvertTrial: ("trial",),
            ChangePlan: ("active",),
            Pause: ("active",),
            Resume: ("paused",),
            Cancel: ("trial", "active", "paused"),
            MonthlyPayment: ("active",),
            FailedPayment: ("active",),
            RetryPayment: ("active",),
            Refund: ("trial", "active", "paused", "cancelled"),
        }[type(action)]
        if sub["status"] not in needs:
            return None
        after = {ConvertTrial: "active", Pause: "paused", Resume: "active", Cancel: "cancelled"}.get(type(action))
        if isinstance(action, Refund):
            paid = [p for p in self.payments.values() if p["subscription_id"] == sub["subscription_id"]]
            refundable = [p for p in paid if p["status"] == "succeeded" and p["amount_cents"] > 0]
            if not refundable:
                return None
            refundable[-1]["status"] = "refunded"
            rows[("payments", "update")] = 1
        if isinstance(action, ChangePlan):
            if sub["plan_id"] == action.plan_id:
                return None
            sub["plan_id"] = action.plan_id
            rows[("subscriptions", "update")] = 1
        if after is not None:
            sub["status"] = after
            rows[("subscriptions", "update")] = 1
        if isinstance(action, ConvertTrial | ChangePlan | Resume | MonthlyPayment | FailedPayment | RetryPayment):
            self._charge(sub["subscription_id"], "failed" if isinstance(action, FailedPayment) else "succeeded")
            rows[("payments", "insert")] = 1
        self.changes.update(rows)
        return Outcome(rows)


def table_sizes(store: MemoryStore) -> dict[str, int]:
    return {
        "customers": len(store.customers),
        "subscriptions": len(store.subscriptions),
        "payments": len(store.payments),
    }


# --- the seed ---------------------------------------------------------------------------------------


def test_the_seed_describes_the_playback_population_and_is_deterministic() -> None:
    seed = legacy_seed(500, NOW)

    assert seed == legacy_seed(500, NOW)
    population = Population.generate(500)
    customers = records(CUSTOMER_COLUMNS, seed.customers)
    assert [c["customer_id"] for c in customers] == list(range(1, 501))
    assert all(c["country"] == population.country_of(c["customer_id"]) for c in customers)
    assert len({c["email"] for c in customers}) == 500
    assert all(str(c["email"]).isascii() and str(c["customer_id"]) + "@" in str(c["email"]) for c in customers)
    assert all(1945 <= int(str(c["birth_year"])) <= 2007 for c in customers)
    assert {c["marketing_opt_in"] for c in customers} == {True, False}


def test_every_customer_has_one_subscription_and_a_few_payments_before_now() -> None:
    seed = legacy_seed(500, NOW)
    subscriptions = records(SUBSCRIPTION_COLUMNS, seed.subscriptions)
    payments = records(PAYMENT_COLUMNS, seed.payments)

    assert [s["customer_id"] for s in subscriptions] == list(range(1, 501))
    statuses = Counter(s["status"] for s in subscriptions)
    assert set(statuses) == {"active", "trial", "paused", "cancelled"}
    assert statuses["active"] > sum(statuses.values()) / 2
    assert all((s["cancelled_at"] is not None) == (s["status"] == "cancelled") for s in subscriptions)
    assert len(seed.plans) == 4

    per_subscription = Counter(p["subscription_id"] for p in payments)
    trials = {s["subscription_id"] for s in subscriptions if s["status"] == "trial"}
    assert not trials & set(per_subscription)
    assert all(1 <= n <= 12 for n in per_subscription.values())
    assert [p["payment_id"] for p in payments] == list(range(1, len(payments) + 1))
    assert {p["status"] for p in payments} == {"succeeded", "failed", "refunded"}
    assert all(isinstance(p["paid_at"], dt.datetime) and p["paid_at"] <= NOW for p in payments)


def test_addresses_embed_the_customer_id_so_they_never_collide() -> None:
    rng = random.Random(1)
    addresses = [people.email(rng, "Jürgen Müller", customer_id) for customer_id in range(1, 2_000)]

    assert len(set(addresses)) == len(addresses)
    assert all(a.isascii() for a in addresses)
    assert all("muller" in a or "jurgen" in a for a in addresses)


# --- the workload ------------------------------------------------------------------------------------


def test_the_mix_is_mostly_inserts_and_updates_with_cascading_erasures() -> None:
    store = MemoryStore()
    before = table_sizes(store)
    workload = LegacyWorkload(store, seed=5)

    changed = sum(workload.step() for _ in range(3_000))

    counts = workload.counts
    assert counts.transactions == 3_000
    assert set(counts.operations) == set(OPERATION_WEIGHTS)
    assert counts.rows == store.changes  # exact, cascaded deletes included
    assert changed == counts.row_changes
    assert counts.rows[("subscriptions", "delete")] == counts.operations["erase"]
    assert counts.rows[("payments", "delete")] > counts.operations["erase"]
    deletes = sum(n for (_, change), n in counts.rows.items() if change == "delete")
    assert 0 < deletes < 0.2 * counts.row_changes
    for table, size in table_sizes(store).items():
        assert size - before[table] == counts.net_rows(table)
    # The shares of the operations follow the weights (those that always apply, at least).
    assert counts.operations["monthly_payment"] > counts.operations["sign_up"] > counts.operations["erase"]


def test_a_seed_replays_the_same_operations() -> None:
    first, second = MemoryStore(), MemoryStore()
    for store in (first, second):
        workload = LegacyWorkload(store, seed=11)
        for _ in range(300):
            workload.step()

    assert first.executed == second.executed
    other = MemoryStore()
    workload = LegacyWorkload(other, seed=12)
    for _ in range(300):
        workload.step()
    assert other.executed != first.executed


def test_sign_ups_get_new_ids_above_the_seeded_ones() -> None:
    store = MemoryStore(customers=50)
    workload = LegacyWorkload(store, seed=2)
    for _ in range(500):
        workload.step()

    new = [c for c in store.customers if c > 50]
    assert len(new) > 0
    assert all(c in workload.planner.roster for c in store.customers)
    assert set(store.customers) == {s.customer_id for s in workload.planner.roster}


def test_customers_erased_by_someone_else_are_skipped_and_the_counts_stay_exact() -> None:
    store = MemoryStore()
    workload = LegacyWorkload(store, seed=8, refresh_every=10_000)
    external: Counter[RowKey] = Counter()
    rng = random.Random(3)

    def meddle(s: MemoryStore) -> None:
        if rng.random() < 0.2 and s.customers:
            external.update(s.erase(rng.choice(sorted(s.customers))))

    store.before_execute = meddle
    for _ in range(1_000):
        workload.step()

    assert workload.counts.transactions == 1_000
    assert workload.counts.skipped > 0
    assert workload.counts.rows + external == store.changes


def test_the_planner_signs_people_up_when_nobody_is_left() -> None:
    planner = LegacyPlanner(Roster(), [1, 2], seed=1)

    assert all(isinstance(planner.next_action(), SignUp) for _ in range(20))


def test_the_planner_refuses_a_monolith_without_plans_and_unknown_operations() -> None:
    with pytest.raises(ValueError, match="no plans"):
        LegacyPlanner(Roster(), [], seed=1)
    with pytest.raises(ValueError, match="unknown operations"):
        LegacyPlanner(Roster(), [1], seed=1, weights={"teleport": 1.0})


def test_a_plan_change_always_picks_another_plan() -> None:
    roster = Roster(Subscriber(i, i, 1 + i % 4, "active", "Ada Lovelace", "GB") for i in range(1, 50))
    planner = LegacyPlanner(roster, [1, 2, 3, 4], seed=3, weights={"change_plan": 1.0})

    for _ in range(200):
        action = planner.next_action()
        assert isinstance(action, ChangePlan)
        current = roster.get(action.customer_id)
        assert current is not None and current.plan_id != action.plan_id


def test_the_roster_picks_only_the_statuses_asked_for() -> None:
    roster = Roster(Subscriber(i, i, 1, ("active", "paused")[i % 2], "A B", "US") for i in range(1, 101))
    rng = random.Random(0)

    picked = {roster.pick(rng, ("paused",)).customer_id for _ in range(500)}  # type: ignore[union-attr]

    assert picked == set(range(1, 101, 2))
    assert roster.pick(rng, ("trial",)) is None
    roster.remove(1)
    assert 1 not in roster and roster.count("paused") == 49


# --- pacing ----------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_rate_counts_row_changes_not_transactions() -> None:
    clock = FakeClock()

    tally = run_workload(lambda: 3, rate=30.0, count=200, clock=clock, sleep=clock.sleep)

    assert (tally.transactions, tally.changes) == (200, 600)
    assert tally.elapsed_s == pytest.approx(600 / 30.0, rel=0.02)
    assert not tally.interrupted


def test_a_duration_bounds_the_run() -> None:
    clock = FakeClock()

    tally = run_workload(lambda: 1, rate=50.0, duration_s=4.0, clock=clock, sleep=clock.sleep)

    assert tally.transactions == pytest.approx(200, abs=3)
    assert tally.elapsed_s == pytest.approx(4.0, abs=0.05)


def test_ctrl_c_waits_for_the_running_transaction_to_be_counted() -> None:
    clock = FakeClock()
    done = []
    handler = signal.getsignal(signal.SIGINT)

    def step() -> int:
        done.append(1)
        if len(done) == 5:
            signal.raise_signal(signal.SIGINT)  # arrives while the transaction is being committed
        return 2

    tally = run_workload(step, rate=1_000.0, clock=clock, sleep=clock.sleep)

    assert tally.interrupted
    assert (tally.transactions, tally.changes) == (5, 10) == (len(done), 2 * len(done))
    assert signal.getsignal(signal.SIGINT) is handler  # put back


def test_a_lost_connection_ends_the_run_with_its_message() -> None:
    clock = FakeClock()
    calls = []

    def step() -> int:
        calls.append(1)
        if len(calls) == 3:
            raise ConnectionError("server closed the connection")
        return 1

    tally = run_workload(step, rate=100.0, clock=clock, sleep=clock.sleep, stop_on=(ConnectionError,))

    assert (tally.transactions, tally.error) == (2, "server closed the connection")


# --- the command -----------------------------------------------------------------------------------

mesh = typer.Typer()
mesh.add_typer(generate_app, name="generate")


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run(*args: str) -> tuple[int, str]:
    result: Any = CliRunner().invoke(mesh, ["generate", *args])
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize("command", ["legacy", "content"])
def test_bad_options_are_refused_before_connecting(command: str) -> None:
    assert run(command, "--rate", "0")[0] == 2
    assert run(command, "--count", "0")[0] == 2


@pytest.mark.parametrize(("command", "database"), [("legacy", "legacy"), ("content", "content")])
def test_an_unreachable_postgres_is_named(monkeypatch: pytest.MonkeyPatch, command: str, database: str) -> None:
    port = unused_port()
    monkeypatch.setenv("MESH_POSTGRES_PORT", str(port))

    exit_code, output = run(command, "--count", "1")

    assert exit_code == 1
    assert f"cannot reach database {database} on PostgreSQL at 127.0.0.1:{port}" in output
    assert "start the stack with `mesh up`" in output
