"""Test events for playback.events: valid ones, and each kind of defect (as fixtures)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from mesh_config import MeshSettings
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_stack import Stack
from mesh_testing.products import eventually, http_client, running_product
from mesh_testing.topics import read_topic

TOPIC = "playback.telemetry.raw.v1"
STREAM = "playback.events.stream.v1"
SCHEMA = Path(__file__).resolve().parents[3] / "schemas" / "playback" / "PlaybackEvent.avsc"
FOLDER = Path(__file__).resolve().parents[1]


def event(session_id: str, i: int, **overrides: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "session_id": session_id,
        "customer_id": 1000 + i % 17,
        "title_id": 7 + i % 5,
        "event_type": ["PLAY", "HEARTBEAT", "PAUSE", "SEEK", "STOP"][i % 5],
        "position_ms": 30_000 * (i % 700),  # titles are at most six hours long
        "occurred_at": dt.datetime(2026, 11, 1, 20, 0, tzinfo=dt.UTC) + dt.timedelta(seconds=30 * i),
        "device": "TV",
        "country": "NL",
        "app_version": "7.4.1",
        **overrides,
    }


class Sender:
    def __init__(self, settings: MeshSettings) -> None:
        registry = SchemaRegistryClient({"url": settings.schema_registry_url})
        self.serializer = AvroSerializer(registry, SCHEMA.read_text())
        self.producer = Producer({**settings.kafka_client(), "enable.idempotence": True, "acks": "all"})

    def valid(self, record: dict[str, Any]) -> None:
        value = self.serializer(record, SerializationContext(TOPIC, MessageField.VALUE))
        self.producer.produce(TOPIC, key=record["session_id"], value=value)

    def raw(self, value: bytes, key: str = "raw") -> None:
        self.producer.produce(TOPIC, key=key, value=value)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0


UNDECODABLE = b"this is not avro"
JSON_TEXT = json.dumps({"event_id": "x"}).encode()
UNKNOWN_SCHEMA_ID = b"\x00\x7f\xff\xff\xf0" + b"\x02\x04abc"  # wire format, but no such schema

OTHER_SCHEMA = {"type": "record", "name": "Other", "namespace": "tests", "fields": [{"name": "foo", "type": "string"}]}


def streamed_event_ids(settings: MeshSettings, session: str) -> list[str]:
    """The event ids of a session in the output stream, as a read-committed consumer sees them."""
    received = read_topic(settings, STREAM, decode=True, quiet_polls=10)
    return [r.record["event_id"] for r in received if r.record and r.record["session_id"] == session]


def other_schema_payload(settings: MeshSettings) -> bytes:
    """Valid Avro in the wire format, written with a registered schema the product cannot read."""
    registry = SchemaRegistryClient({"url": settings.schema_registry_url})
    serializer = AvroSerializer(registry, json.dumps(OTHER_SCHEMA))
    payload = serializer({"foo": "bar"}, SerializationContext("tests.other", MessageField.VALUE))
    assert payload is not None
    return payload


@pytest.fixture(scope="module")
def product(embedded_stack: Stack) -> Iterator[SourceAlignedRuntime]:
    with running_product(FOLDER, embedded_stack.settings, batch_interval_s=0.5, observe_interval_s=1.0) as rt:
        yield rt


@pytest.fixture(scope="module")
def http(product: SourceAlignedRuntime) -> Iterator[httpx.Client]:
    with http_client(product, 30) as client:
        yield client


@pytest.fixture(scope="module")
def session_events(product: SourceAlignedRuntime, http: httpx.Client) -> list[dict[str, Any]]:
    """One viewing session of 20 valid events (two sent twice) plus one of each defect, ingested."""
    session = str(uuid.uuid4())
    sender = Sender(product.settings)
    events = [event(session, i) for i in range(20)]
    for e in events:
        sender.valid(e)
    sender.valid(events[3])
    sender.valid(events[11])
    sender.raw(UNDECODABLE, key=session)
    sender.raw(JSON_TEXT, key=session)
    sender.raw(UNKNOWN_SCHEMA_ID, key=session)
    sender.raw(other_schema_payload(product.settings), key=session)
    sender.valid(event(session, 99, country="nl"))
    sender.valid(event(session, 98, position_ms=-5))
    sender.flush()
    eventually(lambda: len(http.get("/history", params={"session_id": session, "limit": 100}).json()["items"]) == 20)
    return events


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    return event


@pytest.fixture
def sender_type() -> type[Sender]:
    return Sender


@pytest.fixture
def defects() -> dict[str, bytes]:
    return {"undecodable": UNDECODABLE, "json": JSON_TEXT, "unknown_schema": UNKNOWN_SCHEMA_ID}
