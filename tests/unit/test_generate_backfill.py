"""The backfill: a seeded history by the most active viewers, sent unpaced until it reaches the wall
clock and never beyond it. On a fake clock and a fake sink: no waiting, no servers."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from mesh_generate import (
    AvroMessage,
    Catalogue,
    Deliveries,
    Imperfections,
    Kind,
    Outgoing,
    PlaybackSimulator,
    PlaybackTraffic,
    Population,
    RawMessage,
    send_traffic,
)
from mesh_generate.backfill import HOUR_MS, Backfill, history_ends
from mesh_generate.playback_sessions import MEAN_MS_BETWEEN_SESSION_EVENTS
from mesh_generate.progress import history_position

NOW_MS = 1_790_000_000_000
CATALOGUE = Catalogue.generate(60)
POPULATION = Population.generate(500)


class WallClock:
    """Milliseconds that pass only as the sink takes messages: `ms_per_message` each."""

    def __init__(self, start_ms: int, ms_per_message: int = 0) -> None:
        self.now_ms = start_ms
        self.ms_per_message = ms_per_message

    def __call__(self) -> int:
        return self.now_ms

    def seconds(self) -> float:
        return self.now_ms / 1000


class Sink:
    def __init__(self, clock: WallClock) -> None:
        self.clock = clock
        self.sent: list[tuple[int, Outgoing]] = []  # (wall clock when sent, message)
        self.deliveries = Deliveries()

    def send(self, message: Outgoing) -> None:
        self.clock.now_ms += self.clock.ms_per_message
        self.sent.append((self.clock.now_ms, message))

    def poll(self) -> None:
        self.deliveries.delivered = len(self.sent)

    def flush(self, timeout_s: float) -> int:
        self.poll()
        return 0


def send_history(backfill: Backfill, clock: WallClock, seed: int = 3) -> tuple[PlaybackSimulator, Sink]:
    simulator = backfill.simulator(CATALOGUE, POPULATION, seed=f"backfill:{seed}", now_ms=clock())
    sink = Sink(clock)

    def no_sleep(seconds: float) -> None:
        raise AssertionError("an unpaced run never sleeps")

    send_traffic(
        PlaybackTraffic(simulator, Imperfections(), seed=f"backfill:{seed}"),
        sink,
        rate=None,
        stop_before=history_ends(clock),
        clock=clock.seconds,
        sleep=no_sleep,
    )
    return simulator, sink


def records(sink: Sink) -> list[tuple[int, AvroMessage]]:
    return [(at, m) for at, m in sink.sent if isinstance(m, AvroMessage)]


def test_only_the_most_active_customers_watch() -> None:
    regulars = POPULATION.most_active(20)
    expected = sorted(range(1, 501), key=POPULATION.activity_of, reverse=True)[:20]
    rng = __import__("random").Random(1)

    picked = Counter(regulars.pick(rng) for _ in range(5_000))

    assert set(picked) == set(expected)
    assert len(regulars) == len(POPULATION)  # the same customers, in the same countries
    assert all(regulars.country_of(c) == POPULATION.country_of(c) for c in range(1, 501))
    assert all(regulars.activity_of(c) == pytest.approx(POPULATION.activity_of(c)) for c in expected)
    most, least = expected[0], expected[-1]
    assert picked[most] > picked[least]  # and the busiest still watch most


def test_a_history_starts_its_hours_before_now_and_ends_at_the_wall_clock() -> None:
    backfill = Backfill(hours=2, viewers=30, events=4_000)
    clock = WallClock(NOW_MS)  # sending takes no time: the history ends exactly now

    simulator, sink = send_history(backfill, clock)
    sent = records(sink)
    occurred = [m.record["occurred_at"] for _, m in sent]

    assert simulator.start_ms == NOW_MS - 2 * HOUR_MS
    assert min(occurred) >= simulator.start_ms
    assert max(occurred) <= NOW_MS
    assert max(occurred) > NOW_MS - 60_000  # it reaches the present, not some time before it
    assert len(sink.sent) == pytest.approx(backfill.expected_events, rel=0.15)
    assert {m.record["customer_id"] for _, m in sent} <= set(
        sorted(range(1, 501), key=POPULATION.activity_of, reverse=True)[:30]
    )


def test_no_event_is_sent_before_it_happened_when_sending_takes_time() -> None:
    clock = WallClock(NOW_MS, ms_per_message=20)  # 50 messages/s: the history catches up slowly

    simulator, sink = send_history(Backfill(hours=0.5, viewers=50, events=1_500), clock)

    assert all(m.record["occurred_at"] <= at for at, m in records(sink))
    newest = max(m.record["occurred_at"] for _, m in records(sink))
    assert newest > NOW_MS  # the history kept going while it was sent, up to the present
    assert simulator.clock_ms > clock()  # it stopped at the first event still to come, unsent
    assert clock() - newest < 60_000


def test_the_history_carries_the_usual_imperfections() -> None:
    _, sink = send_history(Backfill(hours=3, viewers=100, events=20_000), WallClock(NOW_MS))

    kinds = Counter(m.kind for _, m in sink.sent)

    assert set(kinds) == set(Kind)
    assert kinds[Kind.VALID] / len(sink.sent) > 0.9


def test_a_seed_replays_the_same_history() -> None:
    backfill = Backfill(hours=1, viewers=40, events=2_000)

    first = [m for _, m in send_history(backfill, WallClock(NOW_MS), seed=5)[1].sent]
    again = [m for _, m in send_history(backfill, WallClock(NOW_MS), seed=5)[1].sent]
    other = [m for _, m in send_history(backfill, WallClock(NOW_MS), seed=6)[1].sent]

    assert first == again
    assert first != other


def test_the_history_and_the_live_traffic_of_one_seed_share_no_event_ids() -> None:
    history = Backfill(hours=1, viewers=40, events=2_000).simulator(
        CATALOGUE, POPULATION, seed="backfill:7", now_ms=NOW_MS
    )
    live = PlaybackSimulator(CATALOGUE, POPULATION, concurrent_sessions=40, seed=7, start_ms=NOW_MS)

    history_ids = {r["event_id"] for r in itertools.islice(history, 3_000)}
    live_ids = {r["event_id"] for r in itertools.islice(live, 3_000)}

    assert not history_ids & live_ids  # the playback product would drop repeated ids as duplicates


def test_the_concurrency_follows_from_the_events_and_hours() -> None:
    backfill = Backfill(hours=24, viewers=300, events=200_000)

    assert backfill.concurrent_sessions == round(200_000 * MEAN_MS_BETWEEN_SESSION_EVENTS / (24 * HOUR_MS))
    assert backfill.expected_events == pytest.approx(200_000, rel=0.02)
    assert Backfill(hours=1000, viewers=1, events=1).concurrent_sessions == 1


@pytest.mark.parametrize(
    ("hours", "viewers", "events", "complaint"),
    [(0, 10, 10, "hours"), (-1, 10, 10, "hours"), (1, 0, 10, "viewer"), (1, 10, 0, "event")],
)
def test_an_empty_history_is_refused(hours: float, viewers: int, events: int, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Backfill(hours, viewers, events)


def test_history_ends_only_at_an_event_from_the_future() -> None:
    ends = history_ends(lambda: NOW_MS)
    record = next(iter(PlaybackSimulator(CATALOGUE, POPULATION, concurrent_sessions=1, seed=1, start_ms=NOW_MS)))

    assert not ends(AvroMessage(Kind.VALID, record | {"occurred_at": NOW_MS}))  # happening right now
    assert not ends(AvroMessage(Kind.LATE, record | {"occurred_at": NOW_MS - 60_000}))
    assert ends(AvroMessage(Kind.VALID, record | {"occurred_at": NOW_MS + 1}))
    assert not ends(RawMessage(Kind.UNDECODABLE, "key", b"junk", "random-bytes"))


def test_unpaced_sending_stops_before_the_message_that_ends_it() -> None:
    source = (
        AvroMessage(Kind.VALID, r)
        for r in PlaybackSimulator(CATALOGUE, POPULATION, concurrent_sessions=5, seed=2, start_ms=0)
    )
    clock = WallClock(0)
    sink = Sink(clock)

    tally = send_traffic(
        source, sink, rate=None, stop_before=lambda m: isinstance(m, AvroMessage) and m.record["occurred_at"] > 600_000
    )

    assert tally.sent == len(sink.sent) > 0
    assert max(m.record["occurred_at"] for _, m in records(sink)) <= 600_000


def test_the_progress_says_where_the_history_stands() -> None:
    text = history_position(NOW_MS - 72 * HOUR_MS, NOW_MS - 24 * HOUR_MS, NOW_MS)

    assert "48.0 h sent" in text
    assert "24.0 h behind the present" in text
