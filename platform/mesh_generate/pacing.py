"""Keeping to a rate: a token bucket over an injectable clock, so it is tested without waiting."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Lets `rate` callers per second through `take()` on average. Unused tokens pile up to `burst`,
    so a sender that fell behind catches up briefly instead of losing the time for good."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"the rate must be positive, not {rate}")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 20)  # 50 ms worth of events
        self._clock = clock
        self._sleep = sleep
        self._tokens = 1.0
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def take(self) -> None:
        """Return when one more event may go, sleeping until then if needed."""
        self._refill()
        if self._tokens < 1.0:
            self._sleep((1.0 - self._tokens) / self.rate)
            self._refill()
        # Rounding can leave a hair under one token: a debt the next refill repays, rather than a
        # loop of ever smaller sleeps.
        self._tokens -= 1.0
