"""How much viewing history does recommendations.next-title need to beat the popularity baseline?

Offline, no servers: simulate playback events with the traffic generator (the history that
`mesh generate playback --backfill-hours` sends, optionally followed by live traffic as `mesh demo` sends
it), turn them into sessions with engagement.viewing's own `Sessionizer`, build the training
interactions with recommendations.next-title's own `interactions()`, and evaluate ALS against popularity
as the product does (top 10, the newest fifth of the sessions as the holdout) with the product's
hyper-parameters and, on the same data, with fewer factors.

    .venv/bin/python -m bench.model_lift             # the grid of the report, 3 seeds (~10 min on 2 cores)
    .venv/bin/python -m bench.model_lift --quick     # the default backfill, with and without live traffic
    .venv/bin/python -m bench.model_lift --send      # how fast the default backfill is generated and
                                                     # Avro-serialised (no broker: a producer that drops it)

Results: bench/results/model_lift.json (and a markdown table on stdout), model_lift_sending.json.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import itertools
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroSerializer

from mesh_generate import (
    Catalogue,
    Imperfections,
    PlaybackRecord,
    PlaybackSimulator,
    PlaybackTraffic,
    Population,
    send_traffic,
    sessions_for_rate,
)
from mesh_generate.backfill import DEFAULT_EVENTS, DEFAULT_HOURS, DEFAULT_VIEWERS, Backfill, history_ends
from mesh_generate.kafka_sink import KafkaPlaybackSink, playback_schema
from mesh_generate.messages import AvroMessage, Outgoing
from mesh_generate.sending import Deliveries
from mesh_ml import ImplicitAls, Interactions, NotEnoughData, PopularityBaseline, Split, evaluate, recent_split

ROOT = Path(__file__).resolve().parents[1]
NOW_MS = 1_790_000_000_000  # where the history catches up with the wall clock (any fixed moment will do)
CUSTOMERS = 10_000  # the demo seeds 10,000 customers, and its live traffic draws from all of them
TITLES = 500
LIVE_GAP_S = 90  # from the end of the history to the start of live traffic (the demo waits for ingestion)


def _module(path: Path, name: str) -> ModuleType:
    """A product's domain logic, loaded from its folder."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while their classes are made
    spec.loader.exec_module(module)
    return module


engagement = _module(ROOT / "products" / "engagement.viewing" / "product.py", "_engagement_viewing")
recommendations = _module(ROOT / "products" / "recommendations.next-title" / "product.py", "_next_title")

HYPER_PARAMETERS: dict[str, dict[str, Any]] = {
    "product": dict(recommendations.HYPER_PARAMETERS),
    "8 factors": {**recommendations.HYPER_PARAMETERS, "factors": 8},
}


@dataclass(frozen=True)
class Scenario:
    hours: float  # of history; 0 for none
    events: int  # about this many in the history
    viewers: int  # the most active customers who have a history
    live_s: float = 0.0  # then this many seconds of live traffic at `live_rate` (all CUSTOMERS)
    live_rate: float = 100.0

    def label(self) -> str:
        history = f"{self.hours:g} h, {self.events // 1000}k ev, {self.viewers} viewers" if self.hours else "no history"
        return history + (f" + {self.live_s:g} s live" if self.live_s else "")


@dataclass(frozen=True)
class Outcome:
    scenario: str
    seed: int
    hyper_parameters: str
    events: int
    sessions: int  # engagement.viewing's sessions (merged as it merges them)
    interactions: int  # sessions with watch time: the training rows
    customers: int
    test_customers: int
    live_test_customers: int  # test customers with a live session in the holdout
    model_precision: float = 0.0
    baseline_precision: float = 0.0
    model_recall: float = 0.0
    baseline_recall: float = 0.0
    not_evaluated: str = ""

    @property
    def lift(self) -> float | None:
        return self.model_precision / self.baseline_precision if self.baseline_precision else None


def history(scenario: Scenario, seed: int) -> Iterator[PlaybackRecord]:
    """The backfill as the generator sends it, from `hours` before NOW_MS until it catches up."""
    if not scenario.hours:
        return iter(())
    backfill = Backfill(scenario.hours, scenario.viewers, scenario.events)
    simulator = backfill.simulator(
        Catalogue.generate(TITLES), Population.generate(CUSTOMERS), seed=f"backfill:{seed}", now_ms=NOW_MS
    )
    return itertools.takewhile(lambda r: r["occurred_at"] <= NOW_MS, simulator)


def live(scenario: Scenario, seed: int) -> Iterator[PlaybackRecord]:
    """Live traffic as `mesh generate playback --rate R --duration D` sends it."""
    if not scenario.live_s:
        return iter(())
    start = NOW_MS + LIVE_GAP_S * 1000
    simulator = PlaybackSimulator(
        Catalogue.generate(TITLES),
        Population.generate(CUSTOMERS),
        concurrent_sessions=sessions_for_rate(scenario.live_rate),
        seed=seed,
        start_ms=start,
    )
    return itertools.takewhile(lambda r: r["occurred_at"] < start + scenario.live_s * 1000, simulator)


def sessionize(records: Iterable[PlaybackRecord]) -> pa.Table:
    """engagement.viewing's sessions, open and closed, with the columns the recommender reads. The
    events come in time order, in one go: as engagement's first refresh reads a backfilled history."""
    sessionizer = engagement.Sessionizer()
    done = []
    for n, r in enumerate(records, start=1):
        at = datetime.fromtimestamp(r["occurred_at"] / 1000, UTC)
        event = engagement.Event(at, r["event_type"], r["position_ms"], r["event_id"], r["device"], r["country"])
        sessionizer.add(r["customer_id"], r["title_id"], event)
        if n % 20_000 == 0:
            done += sessionizer.close_expired()
    done += sessionizer.close_expired()
    done += [s for sessions in sessionizer.open.values() for s in sessions]
    return pa.table(
        {
            "customer_id": pa.array([s.customer_id for s in done], pa.int64()),
            "title_id": pa.array([s.title_id for s in done], pa.int64()),
            "watch_seconds": pa.array([s.watch_seconds() for s in done], pa.float64()),
            "started_at": pa.array([s.started_at for s in done], pa.timestamp("us", tz="UTC")),
        }
    )


def holdout(data: Interactions) -> Split:
    return recent_split(data, recommendations.TEST_SHARE)


def run(scenario: Scenario, seed: int) -> list[Outcome]:
    """One simulated history, evaluated with each set of hyper-parameters."""
    events = 0

    def counted(records: Iterable[PlaybackRecord]) -> Iterator[PlaybackRecord]:
        nonlocal events
        for r in records:
            events += 1
            yield r

    sessions = sessionize(counted(itertools.chain(history(scenario, seed), live(scenario, seed))))
    data = recommendations.interactions(sessions)
    common: dict[str, Any] = {
        "scenario": scenario.label(),
        "seed": seed,
        "events": events,
        "sessions": sessions.num_rows,
        "interactions": len(data),
        "customers": data.n_customers,
    }
    try:
        split = holdout(data)
    except NotEnoughData as exc:
        return [
            Outcome(**common, hyper_parameters="-", test_customers=0, live_test_customers=0, not_evaluated=str(exc))
        ]
    live_from = np.datetime64(NOW_MS // 1000, "s")
    live_customers = set(split.test.customer_ids[split.test.days > live_from].tolist())
    common |= {
        "test_customers": split.test_customers,
        "live_test_customers": len(live_customers & set(split.relevant)),
    }
    outcomes = []
    for name, hp in HYPER_PARAMETERS.items():
        e = evaluate(
            functools.partial(ImplicitAls, **hp), PopularityBaseline, data, recommendations.TOP_N, split=holdout
        )
        outcomes.append(
            Outcome(
                **common,
                hyper_parameters=name,
                model_precision=e.model_precision,
                baseline_precision=e.baseline_precision,
                model_recall=e.model_recall,
                baseline_recall=e.baseline_recall,
            )
        )
    return outcomes


class NullProducer:
    """A Kafka producer that takes every message and sends none."""

    def produce(self, topic: str, key: bytes, value: bytes, on_delivery: Callable[..., None]) -> None:
        on_delivery(None, None)

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0


class CountingSink:
    """Counts what it is sent; with `encode`, it is the generator's Kafka sink itself (its Avro serializer,
    with an in-memory schema registry) in front of a producer that sends nothing."""

    def __init__(self, encode: bool) -> None:
        self.newest_ms = 0  # when the newest event sent happened
        self._kafka: KafkaPlaybackSink | None = None
        self._deliveries = Deliveries()
        if encode:
            registry = SchemaRegistryClient.new_client({"url": "mock://model-lift"})
            conf = {"subject.name.strategy": topic_subject_name_strategy}
            serializer = AvroSerializer(registry, playback_schema(), conf=conf)
            self._kafka = KafkaPlaybackSink(NullProducer(), serializer, "playback.telemetry.raw.v1")

    @property
    def deliveries(self) -> Deliveries:
        return self._kafka.deliveries if self._kafka is not None else self._deliveries

    def send(self, message: Outgoing) -> None:
        if isinstance(message, AvroMessage):
            self.newest_ms = max(self.newest_ms, message.record["occurred_at"])
        if self._kafka is not None:
            self._kafka.send(message)
        else:
            self._deliveries.delivered += 1

    def poll(self) -> None:
        pass

    def flush(self, timeout_s: float) -> int:
        return 0


def measure_sending(backfill: Backfill, encode: bool, seed: int = 1) -> dict[str, Any]:
    """The backfill through the generator's own send loop, as `mesh generate playback` runs it."""
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000  # noqa: E731
    simulator = backfill.simulator(
        Catalogue.generate(TITLES), Population.generate(CUSTOMERS), seed=f"backfill:{seed}", now_ms=now_ms()
    )
    traffic = PlaybackTraffic(simulator, Imperfections(), seed=f"backfill:{seed}")
    sink = CountingSink(encode)
    tally = send_traffic(traffic, sink, rate=None, stop_before=history_ends(now_ms))
    finished_ms = now_ms()
    return {
        "backfill": asdict(backfill),
        "sink": "Kafka sink, Avro-serialised, no broker" if encode else "no-op",
        "messages": tally.sent,
        "acknowledged": tally.deliveries.delivered,
        "seconds": round(tally.elapsed_s, 2),
        "messages_per_s": round(tally.average_rate_per_s),
        "history_spans_h": round((sink.newest_ms - simulator.start_ms) / 3_600_000, 3),
        "newest_event_before_the_end_s": round((finished_ms - sink.newest_ms) / 1000, 3),
    }


DEFAULT = Scenario(DEFAULT_HOURS, DEFAULT_EVENTS, DEFAULT_VIEWERS)
GRID = [
    Scenario(0, 0, 0, live_s=30),  # the demo today: 30 s of live traffic only
    *(Scenario(72, events, 300) for events in (100_000, 150_000, 200_000)),
    DEFAULT,
    Scenario(72, 300_000, 300),
    Scenario(72, DEFAULT_EVENTS, 150),  # fewer viewers, more sessions each
    Scenario(72, DEFAULT_EVENTS, 1000),  # more viewers, fewer sessions each
    Scenario(24, DEFAULT_EVENTS, 300),  # the same history in a third of the time
    Scenario(72, 400_000, 300),
    Scenario(72, 800_000, 300),
    Scenario(DEFAULT_HOURS, DEFAULT_EVENTS, DEFAULT_VIEWERS, live_s=30),  # what `mesh demo` would send
    Scenario(DEFAULT_HOURS, DEFAULT_EVENTS, DEFAULT_VIEWERS, live_s=120),  # longer live traffic
]
QUICK = [DEFAULT, Scenario(DEFAULT_HOURS, DEFAULT_EVENTS, DEFAULT_VIEWERS, live_s=30)]


def markdown(outcomes: list[Outcome]) -> str:
    lines = [
        "| history (+ live) | seed | events | sessions | train rows | customers | test cust. (live) "
        "| hyper-parameters | P@10 model / base | lift | R@10 model / base |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        if o.not_evaluated:
            scores = f"not evaluated: {o.not_evaluated}"
            lines.append(
                f"| {o.scenario} | {o.seed} | {o.events:,} | {o.sessions:,} | {o.interactions:,} | {o.customers:,} "
                f"| 0 | - | {scores} | | |"
            )
            continue
        lift = f"{o.lift:.2f}" if o.lift is not None else "n/a"
        lines.append(
            f"| {o.scenario} | {o.seed} | {o.events:,} | {o.sessions:,} | {o.interactions:,} | {o.customers:,} "
            f"| {o.test_customers} ({o.live_test_customers}) | {o.hyper_parameters} "
            f"| {o.model_precision:.4f} / {o.baseline_precision:.4f} | {lift} "
            f"| {o.model_recall:.3f} / {o.baseline_recall:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the default backfill only, with and without live")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--send", action="store_true", help="only time the default backfill to sinks without Kafka")
    args = parser.parse_args()

    from bench.common import console, write_results

    if args.send:
        sending = [measure_sending(Backfill(), encode) for encode in (False, True)]
        for measured in sending:
            console.print(measured)
        write_results("model_lift_sending", {"sending": sending})
        return

    outcomes: list[Outcome] = []
    for scenario in QUICK if args.quick else GRID:
        for seed in range(1, args.seeds + 1):
            started = time.perf_counter()
            found = run(scenario, seed)
            outcomes += found
            lifts = ", ".join(f"{o.hyper_parameters} {o.lift:.2f}" for o in found if o.lift is not None)
            console.print(
                f"{scenario.label()}, seed {seed}: {found[0].events:,} events, {lifts or found[0].not_evaluated} "
                f"({time.perf_counter() - started:.0f} s)",
                highlight=False,
                soft_wrap=True,
            )
    print(markdown(outcomes))
    write_results(
        "model_lift",
        {
            "customers": CUSTOMERS,
            "titles": TITLES,
            "hyper_parameters": HYPER_PARAMETERS,
            "runs": [asdict(o) | {"lift": o.lift} for o in outcomes],
        },
    )


if __name__ == "__main__":
    main()
