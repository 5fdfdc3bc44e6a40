"""The Kafka side of the generator: the input topic, the registered schema and an idempotent producer
that writes records in the Confluent wire format, keyed by session so a session keeps its order."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from mesh_config import MeshSettings
from mesh_generate.errors import GeneratorError, ServiceUnreachable
from mesh_generate.messages import AvroMessage, Outgoing, apply_wire_defect
from mesh_generate.sending import Deliveries

DEFAULT_TOPIC = "playback.telemetry.raw.v1"
PARTITIONS = 3
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "playback" / "PlaybackEvent.avsc"

_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())  # librdkafka's reconnect chatter would break the live display


def playback_schema() -> str:
    return SCHEMA_PATH.read_text()


def ensure_topic(settings: MeshSettings, topic: str, partitions: int = PARTITIONS, timeout_s: float = 5) -> None:
    """Create `topic` unless it exists: the broker does not create topics on first use."""
    admin = AdminClient({**settings.kafka_client(), "log_level": 0})
    try:
        existing = admin.list_topics(timeout=timeout_s).topics
    except KafkaException:
        raise ServiceUnreachable("Kafka", settings.bootstrap_servers) from None
    if topic in existing:
        return
    future = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic]
    try:
        future.result(timeout=30)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # another generator was quicker
            raise GeneratorError(f"cannot create topic {topic}: {exc.args[0].str()}") from None


def register_schema(settings: MeshSettings, subject: str, schema_str: str, timeout_s: float = 5) -> int:
    """Register the schema under `subject` (idempotent) and return its id."""
    url = settings.schema_registry_url
    probe = SchemaRegistryClient({"url": url, "timeout": timeout_s, "max.retries": 0})
    try:
        schema_id: int = probe.register_schema(subject, Schema(schema_str, "AVRO"))
    except SchemaRegistryError as exc:
        raise GeneratorError(f"the schema registry at {url} refused the schema of {subject}: {exc}") from None
    except Exception:
        raise ServiceUnreachable("the schema registry", url) from None
    return schema_id


class KafkaPlaybackSink:
    """Sends generator messages to one topic; a `Sink` for `send_traffic`."""

    def __init__(self, producer: Any, serializer: AvroSerializer, topic: str) -> None:
        self.topic = topic
        self._producer = producer
        self._serializer = serializer
        self._context = SerializationContext(topic, MessageField.VALUE)
        self._deliveries = Deliveries()

    @classmethod
    def connect(cls, settings: MeshSettings, topic: str = DEFAULT_TOPIC) -> KafkaPlaybackSink:
        """Check Kafka and the registry answer, create the topic, register the schema; fail clearly."""
        ensure_topic(settings, topic)
        schema_str = playback_schema()
        register_schema(settings, f"{topic}-value", schema_str)
        registry = SchemaRegistryClient({"url": settings.schema_registry_url})
        producer = Producer(
            {
                **settings.kafka_client(),
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "client.id": "mesh-generate-playback",
                "logger": _log,
            }
        )
        # Subjects are `<topic>-value` by convention; saying so spares a lookup of subject associations.
        serializer = AvroSerializer(registry, schema_str, conf={"subject.name.strategy": topic_subject_name_strategy})
        return cls(producer, serializer, topic)

    @property
    def deliveries(self) -> Deliveries:
        return self._deliveries

    def encode(self, message: Outgoing) -> bytes:
        if not isinstance(message, AvroMessage):
            return message.payload
        payload: bytes = self._serializer(message.record, self._context)
        return apply_wire_defect(payload, message.wire_defect) if message.wire_defect else payload

    def send(self, message: Outgoing) -> None:
        value = self.encode(message)
        while True:
            try:
                self._producer.produce(self.topic, key=message.key.encode(), value=value, on_delivery=self._on_delivery)
                return
            except BufferError:  # the local queue is full: wait for the broker to catch up
                self._producer.poll(0.1)

    def _on_delivery(self, error: KafkaError | None, _message: object) -> None:
        if error is None:
            self._deliveries.delivered += 1
            return
        self._deliveries.failed += 1
        if self._deliveries.first_error is None:
            self._deliveries.first_error = error.str()

    def poll(self) -> None:
        self._producer.poll(0)

    def flush(self, timeout_s: float) -> int:
        remaining: int = self._producer.flush(timeout_s)
        return remaining
