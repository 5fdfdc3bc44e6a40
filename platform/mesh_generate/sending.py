"""The send loop: takes messages at the requested rate, for a count or a duration, hands them to a
sink and keeps the tally. It knows nothing of Kafka, so it is tested with a fake sink and clock."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from mesh_generate.messages import Kind, Outgoing
from mesh_generate.pacing import TokenBucket

RATE_WINDOW_S = 2.0


@dataclass
class Deliveries:
    """What the sink's server acknowledged, or refused, so far."""

    delivered: int = 0
    failed: int = 0
    first_error: str | None = None


class Sink(Protocol):
    def send(self, message: Outgoing) -> None: ...

    def poll(self) -> None:
        """Serve acknowledgements that have arrived, without waiting."""

    def flush(self, timeout_s: float) -> int:
        """Wait for every message to be acknowledged; return how many were not."""

    @property
    def deliveries(self) -> Deliveries: ...


@dataclass
class Tally:
    """Everything sent so far, by kind, and how the sending went."""

    started_s: float
    by_kind: Counter[Kind] = field(default_factory=Counter)
    deliveries: Deliveries = field(default_factory=Deliveries)
    undelivered: int = 0  # still unacknowledged when the final flush gave up
    interrupted: bool = False
    elapsed_s: float = 0.0
    rate_per_s: float = 0.0  # over the last RATE_WINDOW_S seconds
    # What the sink had acknowledged before this run: one sink can serve several (a history, then live).
    baseline: Deliveries = field(default_factory=Deliveries, repr=False)
    _samples: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    @property
    def sent(self) -> int:
        return sum(self.by_kind.values())

    @property
    def average_rate_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def observe(self, now_s: float, deliveries: Deliveries) -> None:
        self.elapsed_s = now_s - self.started_s
        self.deliveries = Deliveries(
            deliveries.delivered - self.baseline.delivered,
            deliveries.failed - self.baseline.failed,
            deliveries.first_error,
        )
        self._samples.append((now_s, self.sent))
        while len(self._samples) > 2 and now_s - self._samples[1][0] >= RATE_WINDOW_S:
            self._samples.popleft()
        then_s, sent_then = self._samples[0]
        self.rate_per_s = (self.sent - sent_then) / (now_s - then_s) if now_s > then_s else 0.0


def send_traffic(
    messages: Iterable[Outgoing],
    sink: Sink,
    *,
    rate: float | None,
    count: int | None = None,
    duration_s: float | None = None,
    stop_before: Callable[[Outgoing], bool] | None = None,
    on_progress: Callable[[Tally], None] | None = None,
    progress_every_s: float = 0.25,
    flush_timeout_s: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Tally:
    """Send `messages` at `rate` per second until `count` are sent, `duration_s` has passed, the
    messages run out, `stop_before` is true of the next message (which is not sent) or Ctrl-C; then
    flush the sink. Without count and duration it runs until Ctrl-C. A `rate` of None sends as fast as
    the sink takes the messages."""
    bucket = TokenBucket(rate, clock=clock, sleep=sleep) if rate is not None else None
    started = clock()
    before = sink.deliveries
    tally = Tally(started_s=started, baseline=Deliveries(before.delivered, before.failed, before.first_error))
    tally.observe(started, sink.deliveries)
    next_progress = started + progress_every_s
    source = iter(messages)
    try:
        while count is None or tally.sent < count:
            if duration_s is not None and clock() - started >= duration_s:
                break
            if bucket is not None:
                bucket.take()
            message = next(source, None)
            if message is None or (stop_before is not None and stop_before(message)):
                break
            sink.send(message)
            tally.by_kind[message.kind] += 1
            now = clock()
            if now >= next_progress:
                next_progress = now + progress_every_s
                sink.poll()
                tally.observe(now, sink.deliveries)
                if on_progress is not None:
                    on_progress(tally)
    except KeyboardInterrupt:
        tally.interrupted = True
    finally:
        stopped = clock()  # the flush is not part of the sending time the rate is measured over
        tally.undelivered = sink.flush(flush_timeout_s)
        tally.observe(stopped, sink.deliveries)
    return tally
