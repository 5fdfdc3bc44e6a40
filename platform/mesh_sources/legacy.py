"""The legacy "subscriptions" monolith: its schema, its starting data and a workload of the business
operations its users perform, for Debezium to capture.

`install_legacy` is idempotent (the schema file is, and the data is seeded only into an empty
database). `LegacyWorkload` pairs the pure `LegacyPlanner` with a store (PostgreSQL, or a fake in unit
tests) and counts exactly what it committed."""

from __future__ import annotations

import datetime as dt

from mesh_config import MeshSettings
from mesh_generate.playback_sessions import WORLD_SEED
from mesh_sources import db
from mesh_sources.db import Closing, SeedReport, copy_rows
from mesh_sources.legacy_ops import Action, ChangeCounts, LegacyPlanner, LegacyStore, Outcome
from mesh_sources.legacy_seed import (
    CUSTOMER_COLUMNS,
    PAYMENT_COLUMNS,
    PLAN_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    legacy_seed,
)
from mesh_sources.legacy_store import ID_SEQUENCES, PostgresLegacyStore

__all__ = ["ChangeCounts", "LegacyWorkload", "SeedReport", "install_legacy"]

SCHEMA_FILE = "legacy.sql"
REFRESH_EVERY = 1_000  # transactions between two re-reads of the live customers
MAX_ATTEMPTS = 100  # actions tried for one step before giving up: the database refuses everything
_SEED_LOCK = 0x6C656761  # advisory lock: two installs at once seed once


def install_legacy(dsn: str, customers: int = 10_000, seed: int = WORLD_SEED) -> SeedReport:
    """Apply legacy.sql, then seed plans, customers 1..`customers`, their subscriptions and payments,
    unless `plans` already has rows. One transaction: a failed seed leaves no half-filled tables."""
    if customers < 1:
        raise ValueError(f"at least one customer is needed, not {customers}")
    with db.connect(dsn) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK,))
        db.apply_schema(conn, SCHEMA_FILE)
        already = conn.execute("SELECT EXISTS (SELECT 1 FROM plans)").fetchone()
        report = SeedReport(seeded=False)
        if not (already and already[0]):
            strays = conn.execute("SELECT EXISTS (SELECT 1 FROM customers)").fetchone()
            if strays and strays[0]:
                raise db.SourceUnavailable(
                    "the legacy database has customers but no plans: it was not seeded by mesh, so it "
                    "cannot be seeded now; empty it (DROP its tables, or `mesh reset`) and try again"
                )
            data = legacy_seed(customers, dt.datetime.now(dt.UTC), seed)
            copy_rows(conn, "plans", PLAN_COLUMNS, data.plans)
            copy_rows(conn, "customers", CUSTOMER_COLUMNS, data.customers)
            copy_rows(conn, "subscriptions", SUBSCRIPTION_COLUMNS, data.subscriptions)
            copy_rows(conn, "payments", PAYMENT_COLUMNS, data.payments)
            report = SeedReport(
                seeded=True,
                rows={
                    "plans": len(data.plans),
                    "customers": len(data.customers),
                    "subscriptions": len(data.subscriptions),
                    "payments": len(data.payments),
                },
            )
        for sequence, table, column in ID_SEQUENCES:
            db.ensure_id_sequence(conn, sequence, table, column)
    return report


class LegacyWorkload(Closing):
    """Realistic business transactions against the monolith, one `step()` at a time, counted exactly.

    Picks only customers it believes live; when an action no longer applies (another writer erased
    the customer, say) the store rolls it back, the workload re-reads the live customers and picks
    again. It also re-reads them every `refresh_every` transactions to notice other writers' sign-ups."""

    def __init__(self, store: LegacyStore, *, seed: int, refresh_every: int = REFRESH_EVERY) -> None:
        self.store = store
        self.planner = LegacyPlanner(store.roster(), store.plan_ids(), seed=seed)
        self.counts = ChangeCounts()
        self.refresh_every = refresh_every
        self._since_refresh = 0

    @classmethod
    def connect(cls, dsn: str, *, seed: int, refresh_every: int = REFRESH_EVERY) -> LegacyWorkload:
        """A workload on the installed database at `dsn` (see `install_legacy`)."""
        return cls._on(PostgresLegacyStore.open(dsn), seed, refresh_every)

    @classmethod
    def for_mesh(cls, settings: MeshSettings, *, seed: int, refresh_every: int = REFRESH_EVERY) -> LegacyWorkload:
        """The monolith's users as the mesh has them: straight to the monolith, or through the routing
        facade once its subscriptions have started moving to the subscriptions service."""
        from mesh_sources.strangler import RoutingFacade, migration_started

        if not migration_started(settings):
            return cls.connect(settings.postgres_dsn(settings.legacy_db), seed=seed, refresh_every=refresh_every)
        return cls._on(RoutingFacade.open(settings), seed, refresh_every)

    @classmethod
    def _on(cls, store: LegacyStore, seed: int, refresh_every: int) -> LegacyWorkload:
        try:
            return cls(store, seed=seed, refresh_every=refresh_every)
        except BaseException:
            store.close()
            raise

    def step(self) -> int:
        """Commit one business transaction; return how many rows it changed."""
        for _ in range(MAX_ATTEMPTS):
            if self.planner.stale or self._since_refresh >= self.refresh_every:
                self.planner.refresh(self.store.roster())
                self._since_refresh = 0
            action = self.planner.next_action()
            outcome = self.store.execute(action)
            self.planner.record(action, outcome)
            if outcome is not None:
                self._count(action, outcome)
                return sum(outcome.rows.values())
            self.counts.skipped += 1
        raise RuntimeError(f"{MAX_ATTEMPTS} actions in a row did not apply: is another process locking the tables?")

    def _count(self, action: Action, outcome: Outcome) -> None:
        self.counts.add(action.operation, outcome.rows)
        self._since_refresh += 1

    def close(self) -> None:
        self.store.close()
