"""The strangler fig: subscriptions leave the legacy monolith for the subscriptions service, a bucket of
customers at a time, while every write goes on.

- `RoutingFacade` stands in front of both systems (it is the `LegacyStore` the workload writes through):
  customers stay in the monolith; a customer's subscription operations go to whichever system owns
  the customer's bucket (mesh_sources.strangler_routes), under a shared lock on that bucket's route.
- `Migration` moves a bucket. One two-phase commit across the two databases: in the monolith, the
  bucket's subscriptions are marked as moved (`moved_to`, `handover` + 1) and the transaction is
  prepared; in the service, they are copied in with a SubscriptionMigrated event each and the route is
  flipped; the service commits, then the monolith's prepared transaction. The route's flip is the
  decision: a prepared transaction a crash leaves behind is committed when the route says the move
  happened and rolled back when it does not (`recover`). A rollback moves buckets back the same way.

A data product reading both systems owns each subscription from exactly one of them: the monolith's
changes up to the move, the service's events after it (see subscriptions.subscriptions)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from mesh_config import MeshSettings
from mesh_sources import db
from mesh_sources.db import Closing, SourceUnavailable
from mesh_sources.legacy_ops import (
    Action,
    EditProfile,
    Erase,
    OnSubscription,
    Outcome,
    Roster,
    SignUp,
    Subscriber,
)
from mesh_sources.legacy_store import PostgresLegacyStore
from mesh_sources.strangler_routes import (
    BUCKETS,
    MONOLITH,
    SERVICE,
    Routes,
    bucket_of,
    buckets_to_move,
    resolution,
    transaction_id,
)
from mesh_sources.subscriptions_service import (
    HELD,
    HELD_COLUMNS,
    MIGRATED,
    PAYMENT_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    PostgresServiceStore,
    install_service,
)

log = logging.getLogger(__name__)

MONOLITH_DDL = "strangler.sql"
MOVED_TO_SERVICE = "subscriptions-service"
RETIRED = "subscriptions-service; monolith retired"  # the monolith's last word (`Migration.finish`)
LOCK_TIMEOUT = "5s"  # a write waits this long for a bucket being moved, then does not happen

_PAYMENT = sql.SQL(", ").join(map(sql.Identifier, PAYMENT_COLUMNS))


def _upsert(table: str, columns: tuple[str, ...], key: str, extra: str = "") -> sql.Composed:
    """INSERT ... ON CONFLICT (key) DO UPDATE every other column (and `extra`, an assignment)."""
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    updates = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns if c != key]
    if extra:
        updates.append(sql.SQL(extra))  # type: ignore[arg-type]  # a constant of this module
    return sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}").format(
        sql.Identifier(table),
        names,
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        sql.Identifier(key),
        sql.SQL(", ").join(updates),
    )


_COPY_SUBSCRIPTION = _upsert("subscriptions", HELD_COLUMNS, "subscription_id", "moved_to = NULL")
_COPY_PAYMENT = _upsert("payments", PAYMENT_COLUMNS, "payment_id")


@dataclass(frozen=True)
class MigrationStatus:
    phase: str
    routes: Routes
    subscriptions: dict[str, int]  # owner -> subscriptions it owns now
    pending: list[str]  # prepared transactions a crash left (recovered by the next command)
    ever_moved: int = 0  # buckets that changed hands since the migration began

    @property
    def percent(self) -> int:
        return self.routes.percent_moved


class MigrationRefused(Exception):
    """The migration cannot do what was asked in its current phase; the message says what to do."""


def _open(dsn: str, *, autocommit: bool = True) -> psycopg.Connection[TupleRow]:
    conn = db.connect(dsn, autocommit=autocommit)
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
    if not autocommit:
        conn.commit()
    return conn


class ServiceDatabase(Closing):
    """The service's routes and migration phase, on a connection of their own."""

    def __init__(self, conn: psycopg.Connection[TupleRow]) -> None:
        self.conn = conn

    def close(self) -> None:
        self.conn.close()

    def routes(self) -> Routes:
        return Routes({int(b): str(o) for b, o in self.conn.execute("SELECT bucket, owner FROM routes")})

    def phase(self) -> str:
        row = self.conn.execute("SELECT phase FROM migration").fetchone()
        return str(row[0]) if row else "none"

    def ever_moved(self) -> int:
        row = self.conn.execute("SELECT count(*) FROM routes WHERE moved_at IS NOT NULL").fetchone()
        return int(row[0]) if row else 0

    def set_phase(self, phase: str) -> None:
        self.conn.execute("UPDATE migration SET phase = %s, changed_at = now()", (phase,))

    def owner(self, bucket: int, *, lock: str) -> str:
        query = (
            "SELECT owner FROM routes WHERE bucket = %s FOR SHARE"
            if lock == "share"
            else ("SELECT owner FROM routes WHERE bucket = %s FOR UPDATE")
        )
        row = self.conn.execute(query, (bucket,)).fetchone()
        if row is None:
            raise SourceUnavailable(f"the routes table has no bucket {bucket}: start the migration first")
        return str(row[0])


def migration_phase(settings: MeshSettings) -> str:
    """none (also when there is no service yet), running, finished or rolled back."""
    try:
        with db.connect(settings.postgres_dsn(settings.subscriptions_db), autocommit=True) as conn:
            row = conn.execute("SELECT phase FROM migration").fetchone()
    except (SourceUnavailable, psycopg.errors.UndefinedTable):
        return "none"
    return str(row[0]) if row is not None else "none"


def migration_started(settings: MeshSettings) -> bool:
    """Whether writes must go through the facade: the service exists and a migration has begun."""
    return migration_phase(settings) != "none"


class RoutingFacade(Closing):
    """The `LegacyStore` in front of the monolith and the service: each action goes where its
    customer's subscriptions live, under a shared lock on the customer's route (a move waits for it)."""

    def __init__(self, monolith: PostgresLegacyStore, service: PostgresServiceStore, routing: ServiceDatabase) -> None:
        self.monolith = monolith
        self.service = service
        self.routing = routing

    @classmethod
    def open(cls, settings: MeshSettings) -> RoutingFacade:
        monolith_dsn = settings.postgres_dsn(settings.legacy_db)
        service_dsn = settings.postgres_dsn(settings.subscriptions_db)
        return cls(
            PostgresLegacyStore(_open(monolith_dsn)),
            PostgresServiceStore(_open(service_dsn)),
            ServiceDatabase(_open(service_dsn)),
        )

    def close(self) -> None:
        for part in (self.monolith, self.service, self.routing):
            part.close()

    def plan_ids(self) -> list[int]:
        return self.monolith.plan_ids()

    def roster(self) -> Roster:
        routes = self.routing.routes()
        moved = routes.owned_by(SERVICE)
        roster = Roster(s for s in self.monolith.roster() if routes.owner(s.customer_id) == MONOLITH)
        if moved:
            names = self.monolith.names_of(moved)
            for customer_id, (subscription_id, plan_id, status) in self.service.roster_of(moved).items():
                if customer_id in names:
                    full_name, country = names[customer_id]
                    roster.put(Subscriber(customer_id, subscription_id, plan_id, status, full_name, country))
        return roster

    def execute(self, action: Action) -> Outcome | None:
        if isinstance(action, EditProfile):
            return self.monolith.execute(action)  # customers stay in the monolith
        ids = self.monolith.new_ids() if isinstance(action, SignUp) else None
        customer_id = ids[0] if ids is not None else action.customer_id  # type: ignore[union-attr]
        try:
            with self.routing.conn.transaction():
                if self.routing.owner(bucket_of(customer_id), lock="share") == MONOLITH:
                    if isinstance(action, SignUp) and ids is not None:
                        return self.monolith.sign_up(action, ids)
                    return self.monolith.execute(action)
                return self._in_service(action, ids)
        except psycopg.errors.LockNotAvailable:
            return None  # the customer's bucket is being moved: the action did not happen

    def _in_service(self, action: Action, ids: tuple[int, int] | None) -> Outcome | None:
        match action:
            case SignUp() if ids is not None:
                customer_id, subscription_id = ids
                if self.monolith.attempt(lambda: self.monolith.add_customer(action, customer_id)) is None:
                    return None
                subscribed = self.service.attempt(lambda: self.service.subscribe(action, customer_id, subscription_id))
                if subscribed is None:
                    return None
                return replace(subscribed, rows={("customers", "insert"): 1, **subscribed.rows})
            case Erase():
                ended = self.service.attempt(lambda: self.service.end_all(action.customer_id))
                erased = self.monolith.execute(action)  # the customer, and the monolith's copies of what moved
                if erased is None:
                    return ended
                rows = dict(erased.rows) | dict(ended.rows if ended else {})
                return Outcome(rows)
            case OnSubscription():
                return self.service.execute(action)
        raise TypeError(f"not an action the service takes: {action!r}")


class Migration(Closing):
    """`mesh migrate subscriptions`: start, step, status, finish, rollback."""

    def __init__(self, settings: MeshSettings) -> None:
        self.settings = settings
        self.monolith_dsn = settings.postgres_dsn(settings.legacy_db)
        self.service_dsn = settings.postgres_dsn(settings.subscriptions_db)
        self.service = ServiceDatabase(_open(self.service_dsn))
        self.monolith = _open(self.monolith_dsn, autocommit=False)  # for two-phase commits
        self.monolith_admin = _open(self.monolith_dsn)

    def close(self) -> None:
        for conn in (self.service.conn, self.monolith, self.monolith_admin):
            conn.close()

    # --- the commands --------------------------------------------------------------------------------

    def start(self) -> MigrationStatus:
        """The service's tables and routes (if its capture has not made them), the monolith's columns
        and refusal to change what moved (once: changing a table's triggers waits for every writer)."""
        install_service(self.service_dsn, self.monolith_dsn)
        self.recover()
        if self.service.phase() == "finished":
            raise MigrationRefused("the migration has finished: the monolith owns no subscription any more")
        ready = self.monolith_admin.execute(
            "SELECT 1 FROM pg_trigger WHERE tgname = 'refuse_moved_payment' AND NOT tgisinternal"
        ).fetchone()
        if ready is None:
            db.apply_schema(self.monolith_admin, MONOLITH_DDL)
        self.service.set_phase("running")
        return self.status()

    def step(self, percent: int, on_bucket: Callable[[int, int], None] = lambda _b, _n: None) -> MigrationStatus:
        """Move buckets to the service until `percent` % of customers are its; `on_bucket(bucket,
        subscriptions moved)` after each."""
        self._require("running", "start it first: mesh migrate subscriptions start")
        self.recover()
        for bucket in buckets_to_move(self.service.routes(), percent):
            on_bucket(bucket, self.move(bucket, SERVICE))
        return self.status()

    def finish(self) -> MigrationStatus:
        self._require("running", "start it first: mesh migrate subscriptions start")
        self.recover()
        status = self.status()
        if status.percent < 100:
            raise MigrationRefused(
                f"only {status.percent} % of customers have moved: "
                "step to 100 first (mesh migrate subscriptions step 100)"
            )
        self._last_word()
        self.service.set_phase("finished")
        return self.status()

    def _last_word(self) -> None:
        """The monolith's last word on subscriptions, in its own change stream: its newest handed-over
        subscription marked `RETIRED`. Whoever reads that stream in order knows, on reaching it, that
        every change the monolith made before is behind them (subscriptions.subscriptions then retires
        its monolith input)."""
        with self.monolith_admin.transaction():
            marked = self.monolith_admin.execute(
                "UPDATE subscriptions SET moved_to = %s WHERE subscription_id = "
                "(SELECT max(subscription_id) FROM subscriptions WHERE moved_to IS NOT NULL)",
                (RETIRED,),
            ).rowcount
        if marked != 1:
            raise MigrationRefused("the monolith handed no subscription over: there is nothing to finish")

    def rollback(self, on_bucket: Callable[[int, int], None] = lambda _b, _n: None) -> MigrationStatus:
        phase = self.service.phase()
        if phase == "finished":
            raise MigrationRefused("the migration has finished: the monolith's input is retired, there is no way back")
        self.recover()
        for bucket in self.service.routes().owned_by(SERVICE):
            on_bucket(bucket, self.move(bucket, MONOLITH))
        if phase != "none":
            self.service.set_phase("rolled back")
        return self.status()

    def abandon(self) -> MigrationStatus:
        """Every customer back on the monolith and no migration begun (a lab's reset); not after finish."""
        status = self.rollback()
        self.service.set_phase("none")
        self.service.conn.execute("UPDATE routes SET moved_at = NULL")
        return replace(status, phase="none", ever_moved=0)

    def status(self) -> MigrationStatus:
        owned = self.service.conn.execute(
            "SELECT count(*) FROM subscriptions s JOIN routes r ON r.bucket = s.customer_id % 100 "
            "WHERE r.owner = 'service' AND s.moved_to IS NULL"
        ).fetchone()
        routes = self.service.routes()
        monolith = self.monolith_admin.execute(
            "SELECT count(*) FROM subscriptions WHERE customer_id %% 100 = ANY(%s)", (routes.owned_by(MONOLITH),)
        ).fetchone()
        return MigrationStatus(
            self.service.phase(),
            routes,
            {MONOLITH: int(monolith[0]) if monolith else 0, SERVICE: int(owned[0]) if owned else 0},
            self._prepared(),
            self.service.ever_moved(),
        )

    def _require(self, phase: str, fix: str) -> None:
        now = self.service.phase()
        if now != phase:
            raise MigrationRefused(f"the migration is {now!r}, not {phase!r}: {fix}")

    # --- moving a bucket -----------------------------------------------------------------------------

    def move(self, bucket: int, to: str) -> int:
        """Move one bucket's subscriptions to `to` in one two-phase commit; returns how many moved."""
        if not 0 <= bucket < BUCKETS:
            raise ValueError(f"no bucket {bucket}")
        gid = transaction_id(bucket, to, uuid.uuid4().hex[:12])
        service = self.service.conn
        begun = prepared = False
        moved = 0
        try:
            with service.transaction():
                if self.service.owner(bucket, lock="update") == to:
                    return 0
                self.monolith.tpc_begin(gid)
                begun = True
                moved = self._to_service(bucket) if to == SERVICE else self._to_monolith(bucket)
                self.monolith.tpc_prepare()
                prepared = True
                self._flip(bucket, to)
        except Exception:
            # Not BaseException: an interrupted move is left as a crash would leave it (`recover`).
            if begun or prepared:
                self.monolith.tpc_rollback()
            raise
        self._commit_prepared()
        log.info("bucket %d: %d subscriptions moved to the %s", bucket, moved, to)
        return moved

    def _flip(self, bucket: int, to: str) -> None:
        """The decision: once this commits, the move has happened."""
        self.service.conn.execute("UPDATE routes SET owner = %s, moved_at = now() WHERE bucket = %s", (to, bucket))

    def _commit_prepared(self) -> None:
        self.monolith.tpc_commit()

    def _to_service(self, bucket: int) -> int:
        """In the monolith's prepared transaction: mark and read; in the service's: copy and announce."""
        rows = self.monolith.execute(
            sql.SQL(
                "UPDATE subscriptions SET moved_to = %s, handover = coalesce(handover, 0) + 1 "
                "WHERE customer_id %% 100 = %s AND moved_to IS NULL RETURNING {}"
            ).format(HELD),
            (MOVED_TO_SERVICE, bucket),
        ).fetchall()
        ids = [row[0] for row in rows]
        payments = self.monolith.execute(
            sql.SQL("SELECT {} FROM payments WHERE subscription_id = ANY(%s)").format(_PAYMENT), (ids,)
        ).fetchall()
        service = self.service.conn
        _copy(service, _COPY_SUBSCRIPTION, rows)
        _copy(service, _COPY_PAYMENT, payments)
        if ids:
            PostgresServiceStore(service).publish(MIGRATED, ids)
        return len(rows)

    def _to_monolith(self, bucket: int) -> int:
        """The way back: the service marks and reads, the monolith takes its subscriptions back."""
        service = self.service.conn
        rows = service.execute(
            sql.SQL(
                "UPDATE subscriptions SET moved_to = 'monolith', handover = handover + 1 "
                "WHERE customer_id %% 100 = %s AND moved_to IS NULL RETURNING {}"
            ).format(HELD),
            (bucket,),
        ).fetchall()
        ids = [row[0] for row in rows]
        payments = service.execute(
            sql.SQL("SELECT {} FROM payments WHERE subscription_id = ANY(%s)").format(_PAYMENT), (ids,)
        ).fetchall()
        _copy(self.monolith, _COPY_SUBSCRIPTION, rows)
        _copy(self.monolith, _COPY_PAYMENT, payments)
        return len(rows)

    # --- recovery ------------------------------------------------------------------------------------

    def _prepared(self) -> list[str]:
        return [
            str(row[0])
            for row in self.monolith_admin.execute(
                "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE 'strangler:%'"
            )
        ]

    def recover(self) -> list[tuple[str, str]]:
        """Finish what a crash left between the two commits: the route says which way it went."""
        done = []
        routes = self.service.routes()
        for gid in self._prepared():
            verdict = resolution(gid, routes)
            if verdict is None:
                continue
            verb = "COMMIT PREPARED {}" if verdict == "commit" else "ROLLBACK PREPARED {}"
            self.monolith_admin.execute(sql.SQL(verb).format(sql.Literal(gid)))
            log.warning("recovered the prepared transaction %s: %s", gid, verdict)
            done.append((gid, verdict))
        return done


def _copy(conn: psycopg.Connection[Any], statement: sql.Composed, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        with conn.cursor() as cursor:
            cursor.executemany(statement, rows)


def subscriptions_now(settings: MeshSettings) -> dict[int, dict[str, Any]]:
    """Every subscription as the system that owns it has it now (the route of its customer's bucket
    says which): what subscriptions.subscriptions must serve, whatever share has moved."""
    listed = sql.SQL(", ").join(map(sql.Identifier, SUBSCRIPTION_COLUMNS))
    with db.connect(settings.postgres_dsn(settings.subscriptions_db), autocommit=True) as conn:
        try:
            routes = ServiceDatabase(conn).routes()
            theirs = conn.execute(sql.SQL("SELECT {} FROM subscriptions WHERE moved_to IS NULL").format(listed))
            service = [row for row in theirs if routes.owner(row[1]) == SERVICE]
        except psycopg.errors.UndefinedTable:  # no service yet
            routes, service = Routes(dict.fromkeys(range(BUCKETS), MONOLITH)), []
    with db.connect(settings.postgres_dsn(settings.legacy_db), autocommit=True) as conn:
        ours = conn.execute(sql.SQL("SELECT {} FROM subscriptions").format(listed))
        monolith = [row for row in ours if routes.owner(row[1]) == MONOLITH]
    return {int(row[0]): dict(zip(SUBSCRIPTION_COLUMNS, row, strict=True)) for row in (*monolith, *service)}


@contextmanager
def legacy_store(settings: MeshSettings) -> Iterator[PostgresLegacyStore | RoutingFacade]:
    """What writes the monolith's business operations: the monolith itself, or the routing facade once
    a migration has begun."""
    store: PostgresLegacyStore | RoutingFacade = (
        RoutingFacade.open(settings)
        if migration_started(settings)
        else PostgresLegacyStore.open(settings.postgres_dsn(settings.legacy_db))
    )
    try:
        yield store
    finally:
        store.close()
