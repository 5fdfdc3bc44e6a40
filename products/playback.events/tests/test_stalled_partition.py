"""A consumer that stops fetching its partitions (as librdkafka's can after a broker restart, with no
error) is noticed and assigned again: the observation port shows the real lag while it is stuck, and
every event sent meanwhile is ingested once. The stuck fetcher is played by a wrapper around the
ingest's consumer that yields nothing until the consumer is assigned again."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import pytest

from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_testing.products import eventually

from .conftest import Sender, event

pytestmark = pytest.mark.integration
EVENTS = 60


class StuckFetcher:
    """The consumer as if its fetcher had stopped: messages are fetched but never handed over, the
    cached high watermark says nothing is waiting, until the partitions are assigned again."""

    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer
        self.assigned_again = threading.Event()
        self.in_place = threading.Event()  # the ingest has called it: its call to the real one is over

    def consume(self, *args: Any, **kwargs: Any) -> list[Any]:
        messages: list[Any] = self._consumer.consume(*args, **kwargs)
        self.in_place.set()
        return messages if self.assigned_again.is_set() else []

    def assign(self, partitions: Any) -> None:
        self.assigned_again.set()
        self._consumer.assign(partitions)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)


def _lag(http: httpx.Client) -> int:
    return int(sum(http.get("/observations").json()["consumer_lag"].values()))


def _kept(http: httpx.Client, session: str) -> int:
    return len(http.get("/history", params={"session_id": session, "limit": 1000}).json()["items"])


def test_a_consumer_that_stops_fetching_shows_its_lag_and_is_assigned_again(
    product: SourceAlignedRuntime, http: httpx.Client
) -> None:
    ingestor = product.ingestor
    ingestor.stalls.stall_s = 6.0  # the production bound is longer; the behaviour is the same
    stuck = StuckFetcher(ingestor.consumer)
    ingestor.consumer = stuck
    # The ingest may be inside a call to the real consumer (up to 0.2 s): events sent then would be
    # ingested as if nothing were stuck, and the lag this test waits for would never show.
    eventually(lambda: stuck.in_place.is_set() or None)

    session = str(uuid.uuid4())
    sender = Sender(product.settings)
    for i in range(EVENTS):
        sender.valid(event(session, i))
    sender.flush()

    # A loaded broker answers watermarks slowly. Should the partitions be assigned again before the lag
    # was seen (a rewind after a failed batch does that too), the failure says so rather than time out.
    unstuck = -1
    waiting = eventually(lambda: _lag(http) or (unstuck if stuck.assigned_again.is_set() else None), attempts=600)
    assert waiting != unstuck, f"assigned again before the lag was seen (behind: {ingestor.behind})"
    assert waiting > 0, "while stuck, the observation port shows the input waiting"
    assert _kept(http, session) == 0
    eventually(lambda: stuck.assigned_again.is_set() or None, attempts=300)
    eventually(lambda: _kept(http, session) == EVENTS or None, attempts=300)
    eventually(lambda: _lag(http) == 0 or None, attempts=150)
