"""What the legacy monolith's users do, decided without a database: the business operations, the mix
they come in, whom each one picks, and the exact count of the rows they changed.

Pure: one seeded RNG and the planner's own view of the live subscribers (`Roster`). A store (PostgreSQL,
or a fake in the unit tests) carries an action out as one transaction and reports the rows it changed,
or `None` when the action no longer applies (the customer was erased, the subscription changed), so the
planner can refresh its view and pick again."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar, Protocol

from mesh_generate.playback_sessions import COUNTRY_WEIGHTS
from mesh_sources import people
from mesh_sources.indexed import IndexedSet

# Business operations and how often each is attempted: mostly payments and profile edits (updates and
# inserts), some plan changes and churn, and a few erasures whose deletes cascade.
OPERATION_WEIGHTS: dict[str, float] = {
    "sign_up": 0.13,
    "convert_trial": 0.05,
    "change_plan": 0.08,
    "pause": 0.04,
    "resume": 0.04,
    "cancel": 0.05,
    "monthly_payment": 0.27,
    "failed_payment": 0.05,
    "retry_payment": 0.05,
    "edit_profile": 0.17,
    "refund": 0.04,
    "erase": 0.03,
}
TRIAL_SHARE = 0.25  # sign-ups that start with a free trial (and a zero-amount card check)
MAX_DRAWS = 50  # operations drawn before falling back to a sign-up, which always applies

TABLES = ("plans", "customers", "subscriptions", "payments")
CHANGES = ("insert", "update", "delete")
RowKey = tuple[str, str]  # (table, change)


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A live customer and their current subscription, as the planner last saw them."""

    customer_id: int
    subscription_id: int
    plan_id: int
    status: str
    full_name: str
    country: str


# The actions. Each names its operation; the store decides the SQL.


@dataclass(frozen=True, slots=True)
class SignUp:
    operation: ClassVar[str] = "sign_up"
    full_name: str
    email_template: str  # `{}` marks where the new customer id goes
    phone: str
    country: str
    birth_year: int
    marketing_opt_in: bool
    plan_id: int
    trial: bool


@dataclass(frozen=True, slots=True)
class OnSubscription:
    """An operation on one customer's subscription; subclasses name it."""

    operation: ClassVar[str] = ""
    customer_id: int
    subscription_id: int


@dataclass(frozen=True, slots=True)
class ConvertTrial(OnSubscription):
    """trial -> active, and the first monthly payment."""

    operation: ClassVar[str] = "convert_trial"


@dataclass(frozen=True, slots=True)
class ChangePlan(OnSubscription):
    """An active subscription moves to another plan and pays the new price: a new billing cycle."""

    operation: ClassVar[str] = "change_plan"
    plan_id: int


@dataclass(frozen=True, slots=True)
class Pause(OnSubscription):
    operation: ClassVar[str] = "pause"


@dataclass(frozen=True, slots=True)
class Resume(OnSubscription):
    """paused -> active, and a payment for the cycle that starts."""

    operation: ClassVar[str] = "resume"


@dataclass(frozen=True, slots=True)
class Cancel(OnSubscription):
    operation: ClassVar[str] = "cancel"


@dataclass(frozen=True, slots=True)
class MonthlyPayment(OnSubscription):
    operation: ClassVar[str] = "monthly_payment"


@dataclass(frozen=True, slots=True)
class FailedPayment(OnSubscription):
    """A charge the card refused; a later `RetryPayment` succeeds."""

    operation: ClassVar[str] = "failed_payment"


@dataclass(frozen=True, slots=True)
class RetryPayment(OnSubscription):
    operation: ClassVar[str] = "retry_payment"


@dataclass(frozen=True, slots=True)
class Refund(OnSubscription):
    """The latest succeeded payment of the subscription is refunded."""

    operation: ClassVar[str] = "refund"


@dataclass(frozen=True, slots=True)
class EditProfile:
    operation: ClassVar[str] = "edit_profile"
    customer_id: int
    email: str | None  # None: unchanged
    full_name: str | None
    toggle_marketing_opt_in: bool
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Erase:
    """A GDPR erasure: the customer row is deleted; subscriptions and payments go with it (cascade)."""

    operation: ClassVar[str] = "erase"
    customer_id: int


Action = SignUp | OnSubscription | EditProfile | Erase


@dataclass(frozen=True)
class Outcome:
    """What one committed transaction changed: exact row counts, and the ids a sign-up was given."""

    rows: Mapping[RowKey, int]
    customer_id: int | None = None
    subscription_id: int | None = None


class LegacyStore(Protocol):
    """Carries actions out against the monolith's database, one transaction each."""

    def plan_ids(self) -> list[int]: ...

    def roster(self) -> Roster:
        """Every live customer with their latest subscription."""

    def execute(self, action: Action) -> Outcome | None:
        """Commit the action and report its changes; None (and nothing written) if it no longer applies."""

    def close(self) -> None: ...


@dataclass
class ChangeCounts:
    """Committed transactions, by business operation, and the rows they changed, by table and change,
    cascaded deletes included: what a CDC consumer must see, event for event."""

    transactions: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    rows: Counter[RowKey] = field(default_factory=Counter)
    skipped: int = 0  # actions that no longer applied, rolled back without a change

    def add(self, operation: str, rows: Mapping[RowKey, int]) -> None:
        self.transactions += 1
        self.operations[operation] += 1
        self.rows.update({key: count for key, count in rows.items() if count})

    @property
    def row_changes(self) -> int:
        return sum(self.rows.values())

    def net_rows(self, table: str) -> int:
        """Rows inserted minus rows deleted: how much the table grew."""
        return self.rows[(table, "insert")] - self.rows[(table, "delete")]


class Roster:
    """Live subscribers by customer id and by subscription status, for quick random picks."""

    STATUSES = ("trial", "active", "paused", "cancelled")

    def __init__(self, subscribers: Iterable[Subscriber] = ()) -> None:
        self._by_id: dict[int, Subscriber] = {}
        self._by_status = {status: IndexedSet() for status in self.STATUSES}
        for subscriber in subscribers:
            self.put(subscriber)

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, customer_id: int) -> bool:
        return customer_id in self._by_id

    def __iter__(self) -> Iterator[Subscriber]:
        return iter(self._by_id.values())

    def get(self, customer_id: int) -> Subscriber | None:
        return self._by_id.get(customer_id)

    def count(self, status: str) -> int:
        return len(self._by_status[status])

    def put(self, subscriber: Subscriber) -> None:
        self.remove(subscriber.customer_id)
        self._by_id[subscriber.customer_id] = subscriber
        self._by_status[subscriber.status].add(subscriber.customer_id)

    def remove(self, customer_id: int) -> None:
        old = self._by_id.pop(customer_id, None)
        if old is not None:
            self._by_status[old.status].discard(customer_id)

    def pick(self, rng: random.Random, statuses: Sequence[str] = STATUSES) -> Subscriber | None:
        """A uniformly random subscriber whose status is one of `statuses`, or None if there is none."""
        total = sum(len(self._by_status[s]) for s in statuses)
        if total == 0:
            return None
        position = rng.randrange(total)
        for status in statuses:
            bag = self._by_status[status]
            if position < len(bag):
                return self._by_id[bag.item(position)]
            position -= len(bag)
        raise AssertionError("unreachable: position within total")


class LegacyPlanner:
    """Draws the next business operation and its subject from the live roster, and keeps the roster up
    to date from each outcome. `stale` turns true when an action did not apply: refresh the roster."""

    def __init__(
        self,
        roster: Roster,
        plan_ids: Sequence[int],
        *,
        seed: int,
        weights: Mapping[str, float] = OPERATION_WEIGHTS,
    ) -> None:
        if not plan_ids:
            raise ValueError("the monolith has no plans: install and seed it first")
        unknown = set(weights) - set(OPERATION_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown operations: {sorted(unknown)}")
        self.roster = roster
        self.plan_ids = list(plan_ids)
        self.stale = False
        self._rng = random.Random(seed)
        self._operations = [op for op, weight in weights.items() if weight > 0]
        self._weights = [weights[op] for op in self._operations]
        self._awaiting_retry = IndexedSet()  # customers whose last charge failed

    def refresh(self, roster: Roster) -> None:
        self.roster = roster
        self.stale = False
        for customer_id in self._awaiting_retry.items():
            if customer_id not in roster:
                self._awaiting_retry.discard(customer_id)

    def next_action(self) -> Action:
        for _ in range(MAX_DRAWS):
            operation = self._rng.choices(self._operations, weights=self._weights)[0]
            action = self._propose(operation)
            if action is not None:
                return action
        return self._sign_up()

    def _propose(self, operation: str) -> Action | None:
        rng, roster = self._rng, self.roster
        if operation == "sign_up":
            return self._sign_up()
        if operation == "retry_payment":
            if not self._awaiting_retry:
                return None
            customer_id = self._awaiting_retry.choice(rng)
            subscriber = roster.get(customer_id)
            if subscriber is None or subscriber.status != "active":
                self._awaiting_retry.discard(customer_id)  # erased, paused or cancelled since the failure
                return None
            return RetryPayment(subscriber.customer_id, subscriber.subscription_id)
        statuses = {
            "convert_trial": ("trial",),
            "change_plan": ("active",),
            "pause": ("active",),
            "resume": ("paused",),
            "cancel": ("trial", "active", "paused"),
            "monthly_payment": ("active",),
            "failed_payment": ("active",),
            "refund": ("active", "paused", "cancelled"),
        }.get(operation, Roster.STATUSES)
        subscriber = roster.pick(rng, statuses)
        if subscriber is None:
            return None
        ids = (subscriber.customer_id, subscriber.subscription_id)
        match operation:
            case "convert_trial":
                return ConvertTrial(*ids)
            case "change_plan":
                others = [p for p in self.plan_ids if p != subscriber.plan_id]
                return ChangePlan(*ids, plan_id=rng.choice(others)) if others else None
            case "pause":
                return Pause(*ids)
            case "resume":
                return Resume(*ids)
            case "cancel":
                return Cancel(*ids)
            case "monthly_payment":
                return MonthlyPayment(*ids)
            case "failed_payment":
                return FailedPayment(*ids)
            case "refund":
                return Refund(*ids)
            case "edit_profile":
                return self._edit_profile(subscriber)
            case "erase":
                return Erase(subscriber.customer_id)
        raise ValueError(f"unknown operation {operation!r}")

    def _sign_up(self) -> SignUp:
        rng = self._rng
        country = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
        name = people.full_name(rng, country)
        return SignUp(
            full_name=name,
            email_template=people.email_template(rng, name),
            phone=people.phone(rng, country),
            country=country,
            birth_year=people.birth_year(rng),
            marketing_opt_in=rng.random() < 0.35,
            plan_id=rng.choice(self.plan_ids),
            trial=rng.random() < TRIAL_SHARE,
        )

    def _edit_profile(self, subscriber: Subscriber) -> EditProfile:
        """A new address (30 %), a new last name and with it a new address (20 %), a new phone number
        (15 %), or the marketing consent switched (35 %)."""
        rng = self._rng
        draw = rng.random()
        if draw < 0.15:
            number = people.phone(rng, subscriber.country)
            return EditProfile(subscriber.customer_id, None, None, toggle_marketing_opt_in=False, phone=number)
        if draw < 0.45:
            address = people.email_template(rng, subscriber.full_name).format(subscriber.customer_id)
            return EditProfile(subscriber.customer_id, address, None, toggle_marketing_opt_in=False)
        if draw < 0.65:
            name = people.married_name(rng, subscriber.full_name, subscriber.country)
            address = people.email_template(rng, name).format(subscriber.customer_id)
            return EditProfile(subscriber.customer_id, address, name, toggle_marketing_opt_in=False)
        return EditProfile(subscriber.customer_id, None, None, toggle_marketing_opt_in=True)

    def record(self, action: Action, outcome: Outcome | None) -> None:
        """Bring the roster up to date with a committed action; None marks it stale instead."""
        if outcome is None:
            self.stale = True
            if isinstance(action, RetryPayment):
                self._awaiting_retry.discard(action.customer_id)
            return
        roster = self.roster
        if isinstance(action, SignUp):
            if outcome.customer_id is None or outcome.subscription_id is None:
                raise ValueError("a sign-up outcome must carry the new customer and subscription ids")
            status = "trial" if action.trial else "active"
            roster.put(
                Subscriber(
                    outcome.customer_id,
                    outcome.subscription_id,
                    action.plan_id,
                    status,
                    action.full_name,
                    action.country,
                )
            )
            return
        if isinstance(action, Erase):
            roster.remove(action.customer_id)
            self._awaiting_retry.discard(action.customer_id)
            return
        current = roster.get(action.customer_id)
        if current is None:
            return
        if isinstance(action, EditProfile):
            if action.full_name is not None:
                roster.put(replace(current, full_name=action.full_name))
            return
        if isinstance(action, ChangePlan):
            roster.put(replace(current, plan_id=action.plan_id))
        elif isinstance(action, ConvertTrial | Resume):
            roster.put(replace(current, status="active"))
        elif isinstance(action, Pause):
            roster.put(replace(current, status="paused"))
        elif isinstance(action, Cancel):
            roster.put(replace(current, status="cancelled"))
            self._awaiting_retry.discard(action.customer_id)
        elif isinstance(action, FailedPayment):
            self._awaiting_retry.add(action.customer_id)
        elif isinstance(action, RetryPayment):
            self._awaiting_retry.discard(action.customer_id)
