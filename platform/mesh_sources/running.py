"""The workload loop: one transaction after another at a rate of *changes* (rows or events) per second,
for a count of transactions, a duration or until Ctrl-C.

Ctrl-C never lands inside a transaction's bookkeeping: it is held until the running step has
committed and been counted, so the summary printed afterwards is exact. The clock and sleep are
injectable, so pacing is tested without waiting."""

from __future__ import annotations

import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from mesh_generate.pacing import TokenBucket

RATE_WINDOW_S = 2.0


@dataclass
class RunTally:
    """Transactions and changes so far, and how the run went."""

    started_s: float
    transactions: int = 0
    changes: int = 0  # row changes (legacy) or outbox events (content)
    interrupted: bool = False
    error: str | None = None  # what ended the run early (see `stop_on`)
    elapsed_s: float = 0.0
    rate_per_s: float = 0.0  # changes per second over the last RATE_WINDOW_S seconds
    _samples: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    @property
    def average_rate_per_s(self) -> float:
        return self.changes / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def observe(self, now_s: float) -> None:
        self.elapsed_s = now_s - self.started_s
        self._samples.append((now_s, self.changes))
        while len(self._samples) > 2 and now_s - self._samples[1][0] >= RATE_WINDOW_S:
            self._samples.popleft()
        then_s, changes_then = self._samples[0]
        self.rate_per_s = (self.changes - changes_then) / (now_s - then_s) if now_s > then_s else 0.0


class _HeldInterrupt:
    """While `holding`, SIGINT is remembered instead of raised; outside, it raises as usual."""

    def __init__(self) -> None:
        self.holding = False
        self.pending = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.holding:
            self.pending = True
        else:
            raise KeyboardInterrupt


@contextmanager
def _interrupt_guard() -> Iterator[_HeldInterrupt]:
    guard = _HeldInterrupt()
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield guard
        return
    previous = signal.signal(signal.SIGINT, guard)
    try:
        yield guard
    finally:
        signal.signal(signal.SIGINT, previous)


def run_workload(
    step: Callable[[], int],
    *,
    rate: float,
    count: int | None = None,
    duration_s: float | None = None,
    on_progress: Callable[[RunTally], None] | None = None,
    progress_every_s: float = 0.25,
    stop_on: tuple[type[Exception], ...] = (),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunTally:
    """Call `step` (one committed transaction; it returns how many changes it made) until `count`
    transactions, `duration_s` seconds or Ctrl-C, keeping to `rate` changes per second on average.

    A transaction of k changes uses k tokens of the rate (at least one), so a cascading delete of ten
    rows is followed by a longer pause than a single insert. An exception of a `stop_on` type (a lost
    connection, say) ends the run like Ctrl-C, with its message in `tally.error`."""
    if rate <= 0:
        raise ValueError(f"the rate must be positive, not {rate}")
    bucket = TokenBucket(rate, clock=clock, sleep=sleep)
    started = clock()
    tally = RunTally(started_s=started)
    tally.observe(started)
    next_progress = started + progress_every_s
    with _interrupt_guard() as guard:
        try:
            while count is None or tally.transactions < count:
                if duration_s is not None and clock() - started >= duration_s:
                    break
                bucket.take()
                guard.holding = True
                changes = step()
                tally.transactions += 1
                tally.changes += changes
                guard.holding = False
                if guard.pending:
                    raise KeyboardInterrupt
                for _ in range(changes - 1):
                    bucket.take()
                now = clock()
                if now >= next_progress:
                    next_progress = now + progress_every_s
                    tally.observe(now)
                    if on_progress is not None:
                        on_progress(tally)
        except KeyboardInterrupt:
            tally.interrupted = True
        except stop_on as exc:
            tally.error = str(exc).strip() or type(exc).__name__
        finally:
            guard.holding = False
    tally.observe(clock())
    return tally
