"""The strangler fig on the real databases: subscriptions move from the monolith to the subscriptions
service a bucket of customers at a time, and back, while the business goes on through the routing
facade, a move is interrupted between its two commits, and subscriptions.subscriptions keeps serving
every subscription as its owner has it, each change once. (0 -> 100 % with a kill -9 of the product and
a broker restart is the fault `strangler-cutover`.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from mesh_config import MeshSettings
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sources.legacy import LegacyWorkload
from mesh_sources.legacy_ops import ChangeCounts
from mesh_sources.strangler import Migration, MigrationRefused, RoutingFacade, subscriptions_now
from mesh_sources.strangler_routes import BUCKETS, MONOLITH, SERVICE
from mesh_testing.products import eventually, running_product, state_matches
from mesh_testing.topics import read_topic

pytestmark = pytest.mark.integration

FOLDER = Path(__file__).resolve().parents[2] / "products" / "subscriptions.subscriptions"
COLUMNS = ("subscription_id", "customer_id", "plan_id", "status", "started_at", "cancelled_at", "updated_at")
STREAM = "subscriptions.subscriptions.stream.v1"


class Crash(BaseException):
    """The migrating process dies here (not an error it could handle)."""


class CrashBeforeSecondCommit(Migration):
    """A move that dies after the service committed and before the monolith's prepared transaction did."""

    def _commit_prepared(self) -> None:
        raise Crash


class CrashBeforeFlip(Migration):
    """A move that dies after the monolith prepared and before the service decided."""

    def _flip(self, bucket: int, to: str) -> None:
        raise Crash


class Business:
    """The monolith's users, through the routing facade, in a thread until stopped; counted exactly."""

    def __init__(self, settings: MeshSettings) -> None:
        self.workload = LegacyWorkload.for_mesh(settings, seed=77)
        assert isinstance(self.workload.store, RoutingFacade), "once a migration has started, writes go through it"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.workload.step()
                self._stop.wait(0.01)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def __enter__(self) -> Business:
        self._thread.start()
        return self

    def stop(self) -> ChangeCounts:
        self._stop.set()
        self._thread.join(30)
        self.workload.close()
        if self.error is not None:
            raise AssertionError(f"the business stopped on {self.error!r}") from self.error
        return self.workload.counts

    def __exit__(self, *_: object) -> None:
        if self._thread.is_alive():
            self.stop()


@pytest.fixture(scope="module")
def product_on_both(subscriptions_service_capture: MeshSettings) -> Iterator[SourceAlignedRuntime]:
    with running_product(FOLDER, subscriptions_service_capture, batch_interval_s=0.3) as runtime:
        yield runtime


def _served_as_owned(product: SourceAlignedRuntime) -> bool:
    return state_matches(product, subscriptions_now(product.settings), COLUMNS)


def test_moving_subscriptions_there_and_back_under_live_business_loses_and_repeats_nothing(
    product_on_both: SourceAlignedRuntime,
) -> None:
    settings = product_on_both.settings
    eventually(lambda: _served_as_owned(product_on_both), attempts=300)
    began = datetime.now(UTC)
    with Migration(settings) as migration:
        with pytest.raises(MigrationRefused, match="start it first"):
            migration.step(10)
        assert migration.start().percent == 0
        with Business(settings) as business:
            eventually(lambda: business.workload.counts.transactions > 50, attempts=100)
            assert migration.step(20).percent == 20
            eventually(lambda: business.workload.counts.transactions > 150, attempts=100)

            # Two crashes between the commits: the route decides which way each goes.
            with CrashBeforeSecondCommit(settings) as crashing, pytest.raises(Crash):
                crashing.move(20, SERVICE)
            with CrashBeforeFlip(settings) as dying, pytest.raises(Crash):
                dying.move(21, SERVICE)
            assert len(migration.status().pending) == 2, "both left a prepared transaction in the monolith"
            verdicts = dict(migration.recover())
            assert sorted(verdicts.values()) == ["commit", "rollback"]
            routes = migration.status().routes
            assert (routes.owners[20], routes.owners[21]) == (SERVICE, MONOLITH)

            assert migration.step(40).percent == 40
            eventually(lambda: business.workload.counts.transactions > 300, attempts=150)
            with pytest.raises(MigrationRefused, match="step to 100 first"):
                migration.finish()
            back = migration.rollback()
            eventually(lambda: business.workload.counts.transactions > 400, attempts=150)
            counts = business.stop()
        assert back.percent == 0 and back.phase == "rolled back" and not back.pending
        assert back.subscriptions[SERVICE] == 0

    assert counts.operations["sign_up"] and counts.operations["erase"], "the business did all kinds of things"
    eventually(lambda: _served_as_owned(product_on_both), attempts=300)
    expected = {
        op: counts.rows[("subscriptions", name)] for op, name in (("c", "insert"), ("u", "update"), ("d", "delete"))
    }

    def changes_since() -> list[dict[str, object]]:
        rows = product_on_both.ingestor.table.refresh().scan().to_arrow().to_pylist()
        return [r for r in rows if r["changed_at"] >= began and r["op"] != "r"]

    def by_op() -> dict[str, int]:
        window = changes_since()
        return {op: sum(1 for r in window if r["op"] == op) for op in "cud"}

    eventually(lambda: by_op() == expected, attempts=150)
    window = changes_since()
    keys = [(r["subscription_id"], r["position"]) for r in window]
    assert len(keys) == len(set(keys)), "no change twice"
    moved = [r for r in window if int(r["position"]) >> 48 > 0]  # type: ignore[call-overload]
    assert moved, "changes the service made, after a handover, are among them"

    wanted = set(keys)
    streamed = read_topic(
        settings,
        STREAM,
        decode=True,
        keep=lambda m: m.record is not None and (m.record["subscription_id"], m.record["position"]) in wanted,
        enough=len(wanted),
    )
    seen = [(m.record["subscription_id"], m.record["position"]) for m in streamed if m.record is not None]
    assert sorted(seen) == sorted(wanted), "the stream carries every change once"


def test_the_monolith_refuses_to_change_a_subscription_that_moved(subscriptions_service_capture: MeshSettings) -> None:
    settings = subscriptions_service_capture
    with Migration(settings) as migration:
        migration.start()
        migration.move(BUCKETS - 1, SERVICE)
        try:
            with psycopg.connect(settings.postgres_dsn(settings.legacy_db)) as conn:
                moved = conn.execute(
                    "SELECT subscription_id FROM subscriptions WHERE moved_to IS NOT NULL LIMIT 1"
                ).fetchone()
                assert moved is not None
                with pytest.raises(psycopg.errors.IntegrityError, match="has moved to the subscriptions service"):
                    conn.execute("UPDATE subscriptions SET status = 'cancelled' WHERE subscription_id = %s", moved)
        finally:
            migration.move(BUCKETS - 1, MONOLITH)
