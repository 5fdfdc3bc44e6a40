"""Reading a topic in a test as a product's consumer would: from its beginning, read-committed, each
message's key, headers and (for a product's stream) its decoded record."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from mesh_config import MeshSettings


@dataclass(frozen=True)
class Received:
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    record: dict[str, Any] | None = None  # the Avro record, when read with `decode`


def read_topic(
    settings: MeshSettings,
    topic: str,
    *,
    keep: Callable[[Received], bool] | None = None,
    enough: int | None = None,
    decode: bool = False,
    quiet_polls: int = 3,
    polls: int = 240,
) -> list[Received]:
    """The messages of `topic` that `keep` selects (all by default), from the beginning: read until at
    least `enough` are kept and a poll finds nothing more (so that a duplicate after them is seen too),
    or, without `enough`, until `quiet_polls` polls in a row find nothing; at most `polls` polls of half
    a second."""
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": settings.schema_registry_url})) if decode else None
    consumer = Consumer(
        {**settings.kafka_client(), "group.id": f"test-{uuid.uuid4()}", "isolation.level": "read_committed"}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        kept: list[Received] = []
        quiet = 0
        for _ in range(polls):
            messages = [m for m in consumer.consume(1000, timeout=0.5) if m.error() is None]
            quiet = 0 if messages else quiet + 1
            if not messages and (len(kept) >= enough if enough is not None else quiet >= quiet_polls):
                break
            for msg in messages:
                value = msg.value()
                record = None
                if deserialize is not None and value is not None:
                    record = deserialize(value, SerializationContext(topic, MessageField.VALUE))
                received = Received(msg.key(), value, {k: (v or b"").decode() for k, v in msg.headers() or []}, record)
                if keep is None or keep(received):
                    kept.append(received)
        return kept
    finally:
        consumer.close()


def dead_letters(
    settings: MeshSettings, topic: str, *, enough: int, keep: Callable[[Received], bool] | None = None
) -> list[dict[str, str]]:
    """The headers of the dead letters on `topic` (defect, reason, source topic, partition, offset)."""
    return [letter.headers for letter in read_topic(settings, topic, keep=keep, enough=enough)]
