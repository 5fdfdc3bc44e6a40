"""Realistic playback events for the benchmarks, sent to the product's input topic."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from mesh_adapters.kafka import ensure_topics
from mesh_config import MeshSettings

INPUT_TOPIC = "playback.telemetry.raw.v1"
SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "playback" / "PlaybackEvent.avsc"
_TYPES = ["PLAY", "HEARTBEAT", "HEARTBEAT", "HEARTBEAT", "PAUSE", "PLAY", "SEEK", "HEARTBEAT", "STOP"]


def event(i: int, session: str) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "session_id": session,
        "customer_id": 1 + i % 5000,
        "title_id": 1 + i % 800,
        "event_type": _TYPES[i % len(_TYPES)],
        "position_ms": 30_000 * (i % 300),
        "occurred_at": dt.datetime.now(dt.UTC),
        "device": ["TV", "MOBILE", "WEB", "TABLET"][i % 4],
        "country": ["NL", "DE", "FR", "US", "BR"][i % 5],
        "app_version": "7.4.1",
    }


def fill_topic(settings: MeshSettings, events: int) -> None:
    ensure_topics(settings, [INPUT_TOPIC])
    serializer = AvroSerializer(SchemaRegistryClient({"url": settings.schema_registry_url}), SCHEMA.read_text())
    producer = Producer(
        {
            **settings.kafka_client(),
            "linger.ms": 20,
            "acks": "all",
            "enable.idempotence": True,
            "queue.buffering.max.messages": 500_000,
        }
    )
    ctx = SerializationContext(INPUT_TOPIC, MessageField.VALUE)
    session = str(uuid.uuid4())
    for i in range(events):
        if i % 40 == 0:
            session = str(uuid.uuid4())
        producer.produce(INPUT_TOPIC, key=session, value=serializer(event(i, session), ctx))
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(120)
