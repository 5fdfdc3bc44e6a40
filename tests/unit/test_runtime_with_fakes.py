"""The composition root accepts fakes: playback.events, built by `build_runtime` on an in-memory Kafka,
a fake schema registry and a local Iceberg catalog, ingests exactly once with no server. A batch lands
in the table, the stream and the dead letters; a crash between the table's commit and the stream's
leaves neither a row twice nor a row missing once the product starts again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mesh_adapters.avro import AvroWireEncoder
from mesh_config import load_settings
from mesh_sdk.runtime.clients import Clients
from mesh_sdk.runtime.compose import build_runtime
from mesh_sdk.runtime.options import RuntimeOptions
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sdk.spec.product import DataProduct, load_product
from mesh_testing.fakes import FakeKafka, FakeProducer, FakeRegistry, fake_clients

PLAYBACK = Path(__file__).resolve().parents[2] / "products" / "playback.events"
HISTORY = "playback.events_history_v1"


@dataclass
class Fakes:
    product: DataProduct
    clients: Clients
    kafka: FakeKafka
    registry: FakeRegistry

    @property
    def topic(self) -> str:
        return self.product.kafka_inputs()[0].topic

    def runtime(self) -> SourceAlignedRuntime:
        """A product process: a new one each call, as after a restart, over the same servers."""
        options = RuntimeOptions(http_port=1, sql_port=1, batch_interval_s=0.05, control_token="t")
        runtime = build_runtime(self.product, load_settings(), options, self.clients)
        assert isinstance(runtime, SourceAlignedRuntime)
        runtime.recover()
        return runtime

    def send(self, events: list[dict[str, Any]], raw: tuple[bytes, ...] = ()) -> None:
        schema = self.product.input_schemas[self.product.kafka_inputs()[0].name]
        encode = AvroWireEncoder(self.registry, f"{self.topic}-value", schema)
        for n, event in enumerate(events):
            self.kafka.append(self.topic, n % 3, event["event_id"].encode(), encode(event))
        for value in raw:
            self.kafka.append(self.topic, 0, None, value)

    def history(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.clients.catalog.load_table(HISTORY).scan().to_arrow().to_pylist()
        return rows


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[Fakes]:
    clients, kafka, registry = fake_clients(tmp_path, ["playback"])
    yield Fakes(load_product(PLAYBACK), clients, kafka, registry)


def _events(count: int) -> list[dict[str, Any]]:
    start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    session = str(uuid.uuid4())
    return [
        {
            "event_id": str(uuid.uuid4()),
            "session_id": session,
            "customer_id": 100 + n % 7,
            "title_id": 5,
            "event_type": "HEARTBEAT",
            "position_ms": n * 1000,
            "occurred_at": start + timedelta(seconds=n),
            "device": "TV",
            "country": "NL",
            "app_version": "1.0",
        }
        for n in range(count)
    ]


def _ingest(runtime: SourceAlignedRuntime, until: int) -> int:
    """Batches until `until` messages were consumed; returns the rows written."""
    consumed = written = 0
    while consumed < until:
        outcome = runtime.ingestor.step()
        assert outcome.consumed, "the fake topic ran dry before the messages were consumed"
        consumed += outcome.consumed
        written += outcome.written
    return written


def test_a_batch_reaches_the_table_the_stream_and_the_dead_letters(fakes: Fakes) -> None:
    runtime = fakes.runtime()
    events = _events(30)
    fakes.send(events + events[:5], raw=(b"not avro",))
    assert _ingest(runtime, 36) == 30
    history = fakes.history()
    assert sorted(r["event_id"] for r in history) == sorted(e["event_id"] for e in events)
    assert all(r["ingested_at"] is not None for r in history)  # a platform column, filled by the SDK
    assert len(fakes.kafka.messages(runtime.stream_topic)) == 30
    dead = fakes.kafka.messages(runtime.deadletter_topic)
    assert len(dead) == 1 and dict(dead[0].headers())["mesh.dlq.defect"] == b"undecodable"


def test_a_crash_between_the_tables_commit_and_the_streams_loses_and_repeats_nothing(fakes: Fakes) -> None:
    first = fakes.runtime()
    events = _events(40)
    fakes.send(events[:20])
    _ingest(first, 20)
    producer = first.ingestor.stream_producer
    assert isinstance(producer, FakeProducer)
    producer.fail_next_commit = RuntimeError("the broker went away")
    fakes.send(events[20:])
    with pytest.raises(RuntimeError, match="went away"):
        first.ingestor.step()  # the table committed the batch; its stream transaction did not
    assert len(fakes.history()) == 40 and len(fakes.kafka.messages(first.stream_topic)) == 20

    second = fakes.runtime()  # the process starts again: the stream gets the batch it lost
    fakes.send(events[30:])  # and the input is sent again (a producer retrying)
    _ingest(second, 10)
    history = fakes.history()
    stream = fakes.kafka.messages(second.stream_topic)
    assert sorted(r["event_id"] for r in history) == sorted(e["event_id"] for e in events)
    assert sorted(m.key() or b"" for m in stream) == sorted(e["event_id"].encode() for e in events)
