"""A batch whose Iceberg commit lands and whose output-stream transaction then fails (as after a broker
restart, when the transaction times out with its records undelivered): the history has the batch, the
stream does not. Recovery must republish it without waiting for a restart, so the stream still holds
every event exactly once. The failure is played by a wrapper that aborts the first transaction for real
where it would have committed it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from confluent_kafka import KafkaError, KafkaException

from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_testing.products import eventually

from .conftest import Sender, event, streamed_event_ids

pytestmark = pytest.mark.integration
EVENTS = 40


class FailsFirstCommit:
    """The stream producer, whose first transaction is aborted where it would be committed."""

    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self.failed = False

    def commit_transaction(self, *args: Any) -> None:
        if not self.failed:
            self.failed = True
            self._producer.abort_transaction(30)
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "the transaction timed out (played by the test)"))
        self._producer.commit_transaction(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)


def test_a_batch_the_stream_lost_after_the_table_commit_is_republished_at_once(
    product: SourceAlignedRuntime, http: httpx.Client
) -> None:
    ingestor = product.ingestor
    failing = FailsFirstCommit(ingestor.stream_producer)
    ingestor.stream_producer = failing  # type: ignore[assignment]

    session = str(uuid.uuid4())
    sender = Sender(product.settings)
    events = [event(session, i) for i in range(EVENTS)]
    for e in events:
        sender.valid(e)
    sender.flush()

    eventually(lambda: failing.failed or None, attempts=150)
    eventually(lambda: _kept(http, session) == EVENTS or None, attempts=300)

    def whole_stream() -> list[str] | None:
        streamed = streamed_event_ids(product.settings, session)
        return streamed if len(streamed) >= EVENTS else None

    streamed = eventually(whole_stream, attempts=20)
    assert sorted(streamed) == sorted(e["event_id"] for e in events), "every event in the stream exactly once"


def _kept(http: httpx.Client, session: str) -> int:
    return len(http.get("/history", params={"session_id": session, "limit": 1000}).json()["items"])
