"""Faults of the derived-product engine (`DerivedRuntime`), on engagement.viewing and a private stack:
a crash between the commit of `sessions` and that of the anchor `daily` (with its progress record),
kill -9 of the product's own process while traffic flows, a rebuild when a playback snapshot the
product had seen was expired, a refresh that fails in a runtime that keeps running, and compactions of
the history it reads increments of (not a fault: they must go unnoticed). After each,
once caught up, the outputs must equal what an uninterrupted run computes: every playback event in
exactly one session, daily watch time the sum of the sessions, no key twice.

The Iceberg tables of a product have fixed names, and the session stack's tables are read by the
`running_mesh` tests, so these destructive tests run on a stack of their own (MESH_FAULTS_BASE_PORT,
default 22600). Only playback.events runs beside engagement.viewing; the titles and customers tables
it joins exist but stay empty."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from mesh_adapters.lakehouse import iceberg_catalog
from mesh_config import MeshSettings
from mesh_generate import Imperfections, Outgoing, PlaybackSimulator, PlaybackTraffic, Population, send_traffic
from mesh_generate.kafka_sink import KafkaPlaybackSink
from mesh_generate.playback_sessions import Catalogue
from mesh_sdk.derive.progress import PROGRESS, REFRESH
from mesh_sdk.runtime.derived import DerivedRuntime
from mesh_sdk.spec.column_types import iceberg_schema
from mesh_sdk.spec.logic import Context, Inputs, Update
from mesh_sdk.spec.product import load_product
from mesh_sdk.storage.history import ensure_table
from mesh_sdk.storage.maintenance import CompactionPolicy, Upkeep, is_compaction
from mesh_sdk.storage.upstream import NotIncremental, UpstreamTable
from mesh_stack import Stack
from mesh_stack.isolated import isolated_settings
from mesh_stack.products import ProductPorts, running_products, start_product, stop_products
from mesh_testing.fakes import NoArtifacts
from mesh_testing.products import eventually, free_port, http_client, running_product

pytestmark = pytest.mark.integration

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
ENGAGEMENT = load_product(PRODUCTS / "engagement.viewing")
PLAYBACK = load_product(PRODUCTS / "playback.events")
LOOKUPS = {
    "titles": load_product(PRODUCTS / "content.titles"),
    "customers": load_product(PRODUCTS / "subscriptions.customers"),
}
HISTORY = PLAYBACK.descriptor.table("history")
DAILY = ENGAGEMENT.descriptor.table("daily")  # the anchor: committed last, with the progress record
SESSIONS = ENGAGEMENT.descriptor.table("sessions")
BASE_PORT = int(os.environ.get("MESH_FAULTS_BASE_PORT", "22600"))
CUSTOMERS, TITLES = 150, 60
BURST = 1000  # playback events sent at once
KILLS = 3


# --- the private stack, playback.events and its traffic ---------------------------------------------


@pytest.fixture(scope="module")
def private_stack() -> Iterator[MeshSettings]:
    """A stack of this module's own, from empty state; products it started are stopped with it."""
    stack = Stack(isolated_settings(f"test-derived-faults-{BASE_PORT}", BASE_PORT))
    stack.reset()
    stack.up()
    try:
        yield stack.settings
    finally:
        stop_products(stack.settings)
        stack.down()


@dataclass
class Playback:
    """playback.events running in this process, and one continuing stream of traffic to it (simulated
    time only moves forward, so no event falls behind the sessionizer's watermark between bursts)."""

    settings: MeshSettings
    runtime: Any  # playback.events' SourceAlignedRuntime
    messages: Iterator[Outgoing]
    sink: KafkaPlaybackSink

    def send(self, count: int = BURST, rate: float = 1000) -> None:
        tally = send_traffic(self.messages, self.sink, rate=rate, count=count)
        assert tally.undelivered == 0 and tally.deliveries.failed == 0

    def settled(self) -> int:
        """The history's newest snapshot, once no batch has been committed for a while."""
        history = UpstreamTable(iceberg_catalog(self.settings), HISTORY)

        def quiet() -> int | None:
            before = history.newest_snapshot()
            time.sleep(2.0)
            after = history.newest_snapshot()
            return after if after is not None and after == before else None

        return eventually(quiet, attempts=30, pause_s=0)


@pytest.fixture(scope="module")
def playback(private_stack: MeshSettings) -> Iterator[Playback]:
    """playback.events ingesting on the private stack, and the (empty) titles and customers tables
    engagement.viewing joins: it waits for every input table to exist."""
    settings = private_stack
    catalog = iceberg_catalog(settings)
    for port, product in LOOKUPS.items():
        props = product.contract.properties(port)
        ensure_table(catalog, product.descriptor.table(port), iceberg_schema(props), product.descriptor.description)
    with running_product(PRODUCTS / "playback.events", settings, batch_interval_s=0.5) as runtime:
        simulator = PlaybackSimulator(
            Catalogue.generate(TITLES),
            Population.generate(CUSTOMERS),
            concurrent_sessions=100,
            seed=17,
            start_ms=time.time_ns() // 10**6,
        )
        traffic = PlaybackTraffic(simulator, Imperfections(late_fraction=0.02, duplicate_fraction=0.01), seed=17)
        sink = KafkaPlaybackSink.connect(settings)
        yield Playback(settings, runtime, iter(traffic), sink)
        sink.flush(5)
        sink._producer.close()  # before the stack goes: it would retry the broker until the process exits


@pytest.fixture
def fresh_engagement(playback: Playback) -> Playback:
    """engagement.viewing's tables dropped: each test's runtime builds them from the whole history."""
    catalog = iceberg_catalog(playback.settings)
    for name in (DAILY, SESSIONS):
        with suppress(NoSuchTableError):
            catalog.drop_table(name)
    return playback


@contextmanager
def engagement(settings: MeshSettings) -> Iterator[Any]:
    with running_product(PRODUCTS / "engagement.viewing", settings) as runtime:
        yield runtime


def caught_up(playback: Playback, runtime: DerivedRuntime) -> int:
    """Wait for the history to settle and the runtime to have refreshed from its newest snapshot (the
    newest when it is reached: on a loaded machine a compaction can land after the history looked quiet)."""
    playback.settled()
    history = UpstreamTable(iceberg_catalog(playback.settings), HISTORY)

    def done() -> int | None:
        runtime.refresh()
        newest = history.newest_snapshot()
        return newest if newest is not None and runtime.seen.get("playback") == newest else None

    return eventually(done, attempts=60, pause_s=1)


def process_caught_up(settings: MeshSettings) -> int:
    """Wait for the product's own process to have refreshed from the history's newest snapshot (the
    newest when it is reached: a compaction of the history can land after it looked quiet)."""
    catalog = iceberg_catalog(settings)
    history = UpstreamTable(catalog, HISTORY)

    def done() -> int | None:
        newest = history.newest_snapshot()
        return newest if newest is not None and progress(catalog)["inputs"].get("playback") == newest else None

    return eventually(done, attempts=90, pause_s=1)


# --- what the outputs must be -------------------------------------------------------------------------


def progress(catalog: Catalog) -> dict[str, Any]:
    """The anchor's progress record (as the runtime reads it: nothing committed yet is refresh 0)."""
    raw = catalog.load_table(DAILY).properties.get(PROGRESS)
    record: dict[str, Any] = json.loads(raw) if raw else {"refresh": 0, "inputs": {}, "outputs": {}}
    return record


def uninterrupted(history: pa.Table, lookups: dict[str, pa.Table]) -> dict[str, list[dict[str, Any]]]:
    """The sessions and daily rows one refresh of a fresh derivation makes of the whole history."""
    derivation = ENGAGEMENT.derivation(Context(ENGAGEMENT.id, NoArtifacts()))  # type: ignore[misc]
    inputs = Inputs(
        {"playback": 1, "titles": None, "customers": None},
        frozenset({"playback"}),
        datetime.now(UTC),
        _new={"playback": history},
        _read=lambda port, where: lookups[port],
    )
    updates: dict[str, Update] = derivation.refresh(inputs)
    assert not updates["sessions"].deleted and not updates["daily"].deleted
    return {port: list(update.rows) for port, update in updates.items()}  # type: ignore[arg-type]


def assert_outputs_correct(settings: MeshSettings, snapshot: int) -> None:
    """engagement's tables, as of the refresh that read the history at `snapshot`: no key twice, every
    event in exactly one session, daily the sum of the sessions, and both equal to an uninterrupted run."""
    catalog = iceberg_catalog(settings)
    assert progress(catalog)["inputs"]["playback"] == snapshot
    history = UpstreamTable(catalog, HISTORY).rows(snapshot)
    lookups = {port: UpstreamTable(catalog, p.descriptor.table(port)).rows(None) for port, p in LOOKUPS.items()}
    sessions = catalog.load_table(SESSIONS).scan().to_arrow().to_pylist()
    daily = catalog.load_table(DAILY).scan().to_arrow().to_pylist()

    assert len({s["session_id"] for s in sessions}) == len(sessions), "a session id twice"
    day_keys = [(d["day"], d["customer_id"], d["title_id"]) for d in daily]
    assert len(set(day_keys)) == len(day_keys), "a daily row twice"
    assert len(set(history["event_id"].to_pylist())) == history.num_rows
    assert sum(s["events"] for s in sessions) == history.num_rows, "every playback event in exactly one session"

    summed: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for s in sessions:
        total = summed[(s["day"], s["customer_id"], s["title_id"])]
        total[0] += 1
        total[1] += s["completed"]
        total[2] += s["watch_seconds"]
    assert set(day_keys) == set(summed)
    for d in daily:
        count, completed, seconds = summed[(d["day"], d["customer_id"], d["title_id"])]
        assert (d["sessions"], d["completed_sessions"]) == (count, completed)
        assert d["watch_seconds"] == pytest.approx(seconds, abs=1e-3)

    expected = uninterrupted(history, lookups)

    def by_start(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        return {
            (r["customer_id"], r["title_id"], r["started_at"]): (
                r["ended_at"],
                r["events"],
                r["status"],
                r["furthest_position_s"],
                round(r["watch_seconds"], 3),
            )
            for r in rows
        }

    assert by_start(sessions) == by_start(expected["sessions"])
    daily_expected = {(d["day"], d["customer_id"], d["title_id"]): d for d in expected["daily"]}
    assert daily_expected.keys() == set(day_keys)
    for d in daily:
        e = daily_expected[(d["day"], d["customer_id"], d["title_id"])]
        assert (d["sessions"], d["completed_sessions"]) == (e["sessions"], e["completed_sessions"])
        assert d["watch_seconds"] == pytest.approx(e["watch_seconds"], abs=1e-3)


@dataclass(frozen=True)
class CrashState:
    """The tables as a dead process left them."""

    progress: dict[str, Any]
    sessions_snapshot: int | None

    @property
    def half_refresh(self) -> bool:
        """Whether `sessions` holds a refresh that the anchor's progress record does not."""
        written: int | None = self.progress["outputs"].get("sessions")
        return self.sessions_snapshot != written


def crash_state(settings: MeshSettings) -> CrashState:
    catalog = iceberg_catalog(settings)
    sessions = catalog.load_table(SESSIONS).current_snapshot()
    return CrashState(progress(catalog), sessions.snapshot_id if sessions is not None else None)


def assert_rolled_back(settings: MeshSettings, crash: CrashState) -> None:
    """The next thing that happened to `sessions` after the crash: back to the progress' snapshot."""
    sessions: Table = iceberg_catalog(settings).load_table(SESSIONS)
    log = [entry.snapshot_id for entry in sessions.metadata.snapshot_log]
    crashed_at = max(i for i, snapshot_id in enumerate(log) if snapshot_id == crash.sessions_snapshot)
    target = crash.progress["outputs"].get("sessions")
    if target is not None:
        assert log[crashed_at + 1] == target
    else:  # the first refresh never completed: back to an empty table (a deleting child of the crashed one)
        emptied = sessions.snapshot_by_id(log[crashed_at + 1])
        assert emptied is not None and emptied.summary is not None and emptied.summary["total-records"] == "0"
        return
    ancestors = set()
    snapshot = sessions.current_snapshot()
    while snapshot is not None:
        ancestors.add(snapshot.snapshot_id)
        snapshot = sessions.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    assert crash.sessions_snapshot not in ancestors, "the half refresh is not part of the current sessions"


class Crash(RuntimeError):
    """A failure the runtime survives."""


class Died(BaseException):
    """The process dies here: the thread that meets it does nothing more (no clean-up either)."""


def failing(
    monkeypatch: pytest.MonkeyPatch,
    owner: object,
    method: str,
    times: int | None,
    error: type[BaseException] = Crash,
) -> threading.Event:
    """Make `owner.method` raise `error` (the first `times` calls, or every call), then behave; returns
    an event set once it has raised."""
    fired = threading.Event()
    original: Callable[..., Any] = getattr(owner, method)
    calls = 0

    def fail(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        if times is None or calls < times:
            calls += 1
            fired.set()
            raise error(f"injected: {method} fails")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, method, fail)
    return fired


# --- the faults ---------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the refresh thread dies
def test_a_crash_between_the_sessions_and_the_anchor_commit_repeats_the_refresh_once(
    fresh_engagement: Playback, monkeypatch: pytest.MonkeyPatch
) -> None:
    playback, settings = fresh_engagement, fresh_engagement.settings
    playback.send()
    with engagement(settings) as first:
        caught_up(playback, first)
        # The process dies at the anchor's commit: sessions has committed, daily never does.
        fired = failing(monkeypatch, first.outputs["daily"], "write", times=None, error=Died)
        playback.send()
        assert fired.wait(60)
        crash = crash_state(settings)
        assert crash.half_refresh
        summary = iceberg_catalog(settings).load_table(SESSIONS).current_snapshot().summary  # type: ignore[union-attr]
        assert summary is not None and int(str(summary[REFRESH])) > crash.progress["refresh"]
    monkeypatch.undo()

    with engagement(settings) as second:
        snapshot = caught_up(playback, second)
        assert second.derivation.describe()["duplicate_events_dropped"] == 0
    assert_rolled_back(settings, crash)
    assert_outputs_correct(settings, snapshot)


def _kill_engagement_process(settings: MeshSettings) -> None:
    (process,) = [p for p in running_products(settings) if p.name == "product-engagement.viewing"]
    proc = process.process()
    assert proc is not None
    os.killpg(proc.pid, signal.SIGKILL)  # the product runs in its own process group
    psutil.wait_procs([proc], timeout=10)


def _metadata_locations(conn: psycopg.Connection[Any]) -> dict[str, str]:
    rows = conn.execute(
        "SELECT table_namespace || '.' || table_name, metadata_location FROM iceberg_tables WHERE table_namespace = %s",
        [ENGAGEMENT.descriptor.domain],
    ).fetchall()
    return {name: location for name, location in rows}


def _kill_mid_refresh(settings: MeshSettings, within_s: float) -> None:
    """SIGKILL the product as soon as `sessions` has a new commit and the anchor not yet (watched in the
    catalog's own table), or after `within_s` at the latest."""
    deadline = time.monotonic() + within_s
    with psycopg.connect(settings.postgres_dsn(settings.catalog_db), autocommit=True) as conn:
        last = _metadata_locations(conn)
        while time.monotonic() < deadline:
            now = _metadata_locations(conn)
            if last and now.get(SESSIONS) != last.get(SESSIONS) and now.get(DAILY) == last.get(DAILY):
                break
            last = now
            time.sleep(0.005)
    _kill_engagement_process(settings)


@contextmanager
def traffic_in_background(playback: Playback, rate: int) -> Iterator[None]:
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            playback.send(count=rate // 4, rate=rate)

    thread = threading.Thread(target=run, name="traffic", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)


def test_kill_9_of_the_product_process_while_traffic_flows_loses_and_doubles_nothing(
    fresh_engagement: Playback,
) -> None:
    playback, settings = fresh_engagement, fresh_engagement.settings
    rng = random.Random(3)
    folder = PRODUCTS / "engagement.viewing"
    ports = ProductPorts(free_port(), free_port())
    crashes: list[CrashState] = []
    try:
        playback.send()
        start_product(settings, folder, ports)
        with traffic_in_background(playback, rate=300):
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.5, 2.0))
                _kill_mid_refresh(settings, within_s=15)
                crashes.append(crash_state(settings))
                start_product(settings, folder, ports)
        playback.settled()
        snapshot = process_caught_up(settings)
        base = f"http://{settings.host}:{ports.http}"
        assert httpx.get(f"{base}/", timeout=10).json()["derivation"]["duplicate_events_dropped"] == 0
    finally:
        stop_products(settings)
    assert any(crash.half_refresh for crash in crashes), "no kill landed between the two commits"
    for crash in crashes:
        if crash.half_refresh:
            assert_rolled_back(settings, crash)
    assert_outputs_correct(settings, snapshot)


def _expire_history_but_the_newest(playback: Playback, seen: int) -> None:
    """New traffic, then every snapshot of the history expired but the newest: the one engagement saw
    and all those after it, so the rows appended since cannot be told apart any more."""
    playback.send()
    newest = playback.settled()
    history: Table = playback.runtime.ingestor.table  # the ingestor's own table: it goes on committing
    assert history.current_snapshot().snapshot_id == newest  # type: ignore[union-attr]
    older = [s.snapshot_id for s in history.metadata.snapshots if s.snapshot_id != newest]
    assert seen in older
    history.maintenance.expire_snapshots().by_ids(older).commit()
    with pytest.raises(NotIncremental):
        UpstreamTable(iceberg_catalog(playback.settings), HISTORY).appended(seen, newest)


@pytest.mark.parametrize("while_stopped", [False, True], ids=["running", "stopped"])
def test_an_expired_input_snapshot_rebuilds_every_output_from_the_whole_history(
    fresh_engagement: Playback, monkeypatch: pytest.MonkeyPatch, while_stopped: bool
) -> None:
    playback, settings = fresh_engagement, fresh_engagement.settings
    rebuilds: list[int] = []
    start_over = DerivedRuntime._start_over

    def counted(runtime: DerivedRuntime) -> None:
        rebuilds.append(runtime.refreshes)
        start_over(runtime)

    monkeypatch.setattr(DerivedRuntime, "_start_over", counted)
    playback.send()
    with engagement(settings) as runtime:
        seen = caught_up(playback, runtime)
        if not while_stopped:
            with runtime._lock:  # no refresh while the snapshots it would read next go away
                _expire_history_but_the_newest(playback, seen)
            snapshot = caught_up(playback, runtime)
            assert runtime.derivation.describe()["duplicate_events_dropped"] == 0
    if while_stopped:
        _expire_history_but_the_newest(playback, seen)
        with engagement(settings) as runtime:
            snapshot = caught_up(playback, runtime)
            assert runtime.derivation.describe()["duplicate_events_dropped"] == 0
    assert len(rebuilds) == 1
    assert_outputs_correct(settings, snapshot)
    if not while_stopped:
        playback.send()  # a restart after the rebuild continues incrementally from it
        with engagement(settings) as runtime:
            assert_outputs_correct(settings, caught_up(playback, runtime))
        assert len(rebuilds) == 1


def test_compactions_of_the_history_are_read_as_no_new_events_by_the_increments(
    fresh_engagement: Playback, monkeypatch: pytest.MonkeyPatch
) -> None:
    playback, settings = fresh_engagement, fresh_engagement.settings
    rebuilds: list[int] = []
    start_over = DerivedRuntime._start_over

    def counted(runtime: DerivedRuntime) -> None:
        rebuilds.append(runtime.refreshes)
        start_over(runtime)

    monkeypatch.setattr(DerivedRuntime, "_start_over", counted)
    # playback.events compacts its history after every batch it commits from now on, with its own upkeep.
    eager = CompactionPolicy(every_s=1e-6, min_files=2, small_file_bytes=1 << 30)
    monkeypatch.setattr(playback.runtime.ingestor, "upkeep", Upkeep(playback.runtime.upkeep.retention, eager))
    playback.send()
    with engagement(settings) as runtime:
        caught_up(playback, runtime)
        crossed = 0  # refreshes whose increments spanned a compaction
        for _ in range(3):
            seen = runtime.seen["playback"]
            playback.send(count=BURST // 2, rate=500)  # several batches, each followed by a compaction
            now_seen = caught_up(playback, runtime)
            snapshots = playback.runtime.ingestor.table.metadata.snapshots
            order = {s.snapshot_id: s.sequence_number for s in snapshots}
            crossed += any(is_compaction(s) and order[seen] < s.sequence_number <= order[now_seen] for s in snapshots)
        snapshot = caught_up(playback, runtime)
        assert runtime.derivation.describe()["duplicate_events_dropped"] == 0
    with http_client(playback.runtime, key="") as client:  # the snapshots port describes, it is open
        kept = client.get("/snapshots/retention").json()["tables"]["history"]
        listed = client.get("/snapshots").json()
    query = "{ snapshotRetention { recentMax tables { port dataFiles lastCompaction { filesWritten } } } }"
    with http_client(playback.runtime) as client:
        answer = client.post("/graphql", json={"query": query}).json()["data"]["snapshotRetention"]
    assert crossed, "no refresh read the increments across a compaction"
    assert not rebuilds, "a compaction is no reason to start over"
    assert_outputs_correct(settings, snapshot)  # every event in exactly one session: none doubled, none lost
    assert kept["last_compaction"]["files_written"] >= 1 and kept["data_files"] <= 2
    assert answer["recentMax"] == playback.runtime.upkeep.retention.recent_max
    assert {t["port"]: t["dataFiles"] for t in answer["tables"]} == {"history": kept["data_files"]}
    replaced = [s for s in listed if s["operation"] == "replace"]
    assert replaced and all(s["added_rows"] == 0 for s in replaced)


def test_a_refresh_whose_derivation_raises_changes_nothing_and_the_ports_keep_serving(
    fresh_engagement: Playback, monkeypatch: pytest.MonkeyPatch
) -> None:
    playback, settings = fresh_engagement, fresh_engagement.settings
    playback.send()
    with engagement(settings) as runtime:
        caught_up(playback, runtime)
        catalog = iceberg_catalog(settings)
        before = (dict(runtime.seen), crash_state(settings))
        fired = failing(monkeypatch, runtime.derivation, "refresh", times=1)
        playback.send()
        assert fired.wait(60)
        assert (dict(runtime.seen), crash_state(settings)) == before
        with http_client(runtime, 10) as http:
            assert http.get("/health").status_code == 200
            assert http.get("/daily").status_code == 200
        snapshot = caught_up(playback, runtime)
        assert progress(catalog)["refresh"] > before[1].progress["refresh"]
    assert_outputs_correct(settings, snapshot)


def test_a_failed_anchor_commit_is_repeated_by_the_same_runtime_without_counting_twice(
    fresh_engagement: Playback, monkeypatch: pytest.MonkeyPatch
) -> None:
    playback, settings = fresh_engagement, fresh_engagement.settings
    playback.send()
    with engagement(settings) as runtime:
        caught_up(playback, runtime)
        fired = failing(monkeypatch, runtime.outputs["daily"], "write", times=1)
        playback.send()
        assert fired.wait(60)
        # Right away, not at the next refresh: sessions back to the last complete refresh.
        eventually(lambda: not crash_state(settings).half_refresh, attempts=50)
        crash = _rolled_back_failure(settings)
        snapshot = caught_up(playback, runtime)  # the same runtime, no restart
        assert runtime.derivation.describe()["duplicate_events_dropped"] == 0
    assert_rolled_back(settings, crash)
    assert_outputs_correct(settings, snapshot)


def _rolled_back_failure(settings: MeshSettings) -> CrashState:
    """The tables as a failed refresh left them, read back from the snapshot log of `sessions` once the
    runtime has rolled its commit back: the half refresh's snapshot, then the progress' one again."""
    catalog = iceberg_catalog(settings)
    record = progress(catalog)
    sessions = catalog.load_table(SESSIONS)
    *_, half, back = [entry.snapshot_id for entry in sessions.metadata.snapshot_log]
    assert back == record["outputs"]["sessions"]
    summary = sessions.snapshot_by_id(half).summary  # type: ignore[union-attr]
    assert summary is not None and summary[REFRESH] == str(record["refresh"] + 1)
    return CrashState(record, half)
