"""The send loop and its pacing, on a fake clock and a fake sink: no waiting, no servers."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator

import pytest

from mesh_generate import (
    Catalogue,
    Deliveries,
    Imperfections,
    Outgoing,
    PlaybackSimulator,
    PlaybackTraffic,
    Population,
    Tally,
    send_traffic,
)
from mesh_generate.pacing import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeSink:
    """Acknowledges everything it is sent, on the next poll or flush."""

    def __init__(self, clock: FakeClock, interrupt_after: int | None = None) -> None:
        self.clock = clock
        self.sent: list[Outgoing] = []
        self.sent_at: list[float] = []
        self.flushed = False
        self.interrupt_after = interrupt_after
        self._deliveries = Deliveries()

    @property
    def deliveries(self) -> Deliveries:
        return self._deliveries

    def send(self, message: Outgoing) -> None:
        if self.interrupt_after is not None and len(self.sent) == self.interrupt_after:
            raise KeyboardInterrupt
        self.sent.append(message)
        self.sent_at.append(self.clock())

    def poll(self) -> None:
        self._deliveries.delivered = len(self.sent)

    def flush(self, timeout_s: float) -> int:
        self.flushed = True
        self.poll()
        return 0


def messages(seed: int = 1) -> Iterator[Outgoing]:
    simulator = PlaybackSimulator(
        Catalogue.generate(50), Population.generate(100), concurrent_sessions=10, seed=seed, start_ms=0
    )
    imperfect = Imperfections(late_fraction=0.1, duplicate_fraction=0.1, malformed_fraction=0.1)
    return iter(PlaybackTraffic(simulator, imperfect, seed=seed))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_count_sends_exactly_that_many_and_tallies_them_by_kind(clock: FakeClock) -> None:
    sink = FakeSink(clock)
    source = messages()

    tally = send_traffic(source, sink, rate=1_000, count=500, clock=clock, sleep=clock.sleep)

    assert tally.sent == len(sink.sent) == 500
    assert tally.by_kind == Counter(m.kind for m in sink.sent)
    assert sink.sent == list(itertools.islice(messages(), 500))  # nothing drawn and left unsent
    assert tally.deliveries.delivered == 500
    assert sink.flushed
    assert not tally.interrupted


def test_the_rate_is_kept(clock: FakeClock) -> None:
    sink = FakeSink(clock)

    tally = send_traffic(messages(), sink, rate=50, count=1_000, clock=clock, sleep=clock.sleep)

    assert tally.elapsed_s == pytest.approx(1_000 / 50, rel=0.01)
    assert tally.average_rate_per_s == pytest.approx(50, rel=0.01)
    per_second = Counter(int(t - sink.sent_at[0]) for t in sink.sent_at)
    assert max(per_second.values()) <= 51


def test_a_duration_ends_the_run(clock: FakeClock) -> None:
    sink = FakeSink(clock)

    tally = send_traffic(messages(), sink, rate=200, duration_s=3, clock=clock, sleep=clock.sleep)

    assert tally.sent == pytest.approx(600, abs=2)


def test_ctrl_c_stops_cleanly_and_flushes(clock: FakeClock) -> None:
    sink = FakeSink(clock, interrupt_after=42)

    tally = send_traffic(messages(), sink, rate=1_000, clock=clock, sleep=clock.sleep)

    assert tally.interrupted
    assert tally.sent == 42
    assert sink.flushed
    assert tally.deliveries.delivered == 42


def test_the_run_ends_when_the_messages_do(clock: FakeClock) -> None:
    sink = FakeSink(clock)

    tally = send_traffic(itertools.islice(messages(), 10), sink, rate=1_000, count=100, clock=clock, sleep=clock.sleep)

    assert tally.sent == 10


def test_progress_is_reported_as_it_goes(clock: FakeClock) -> None:
    seen: list[tuple[float, int, float]] = []

    def record(tally: Tally) -> None:
        seen.append((tally.elapsed_s, tally.sent, tally.rate_per_s))

    send_traffic(messages(), FakeSink(clock), rate=100, count=500, on_progress=record, clock=clock, sleep=clock.sleep)

    assert len(seen) == pytest.approx(5 / 0.25, abs=2)
    assert [sent for _, sent, _ in seen] == sorted(sent for _, sent, _ in seen)
    assert seen[-1][2] == pytest.approx(100, rel=0.05)


def test_a_token_bucket_allows_a_short_burst_after_idling(clock: FakeClock) -> None:
    bucket = TokenBucket(100, burst=10, clock=clock, sleep=clock.sleep)
    clock.now += 60

    for _ in range(10):
        bucket.take()
    assert clock.now == 1_060  # the burst did not wait
    bucket.take()
    assert clock.now == pytest.approx(1_060.01)


@pytest.mark.parametrize("rate", [0, -5])
def test_a_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(rate)


def test_a_second_run_on_the_same_sink_counts_only_its_own_acknowledgements(clock: FakeClock) -> None:
    sink = FakeSink(clock)
    send_traffic(messages(), sink, rate=None, count=300, clock=clock, sleep=clock.sleep)

    tally = send_traffic(messages(seed=2), sink, rate=1_000, count=100, clock=clock, sleep=clock.sleep)

    assert len(sink.sent) == 400
    assert tally.sent == tally.deliveries.delivered == 100


def test_without_a_rate_nothing_waits(clock: FakeClock) -> None:
    def no_sleep(seconds: float) -> None:
        raise AssertionError("an unpaced run never sleeps")

    tally = send_traffic(messages(), FakeSink(clock), rate=None, count=5_000, clock=clock, sleep=no_sleep)

    assert tally.sent == 5_000
