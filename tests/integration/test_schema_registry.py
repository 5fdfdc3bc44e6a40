"""The registry through its Confluent-compatible API, with confluent-kafka's own client and serdes."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from mesh_config import MeshSettings

pytestmark = pytest.mark.integration

PLAY_V1 = {
    "type": "record",
    "name": "PlaybackEvent",
    "namespace": "streamline.playback",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "customer_id", "type": "long"},
        {"name": "title_id", "type": "long"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["PLAY", "PAUSE", "STOP"]}},
        {"name": "position_s", "type": "int"},
    ],
}


@pytest.fixture
def registry(mesh_services: MeshSettings) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": mesh_services.schema_registry_url})


def test_avro_round_trip_through_the_registry(registry: SchemaRegistryClient) -> None:
    topic = f"playback.events.test-{uuid.uuid4().hex[:8]}.v1"
    serializer = AvroSerializer(registry, json.dumps(PLAY_V1))
    deserializer = AvroDeserializer(registry)
    event = {"event_id": "e-1", "customer_id": 42, "title_id": 7, "kind": "PAUSE", "position_s": 913}
    ctx = SerializationContext(topic, MessageField.VALUE)

    payload = serializer(event, ctx)

    assert payload is not None
    assert payload[0] == 0  # Confluent wire format: magic byte, then the 4-byte schema id
    assert deserializer(payload, ctx) == event
    registered = registry.get_latest_version(f"{topic}-value")
    assert json.loads(registered.schema.schema_str or "{}")["name"] == "PlaybackEvent"


def test_backward_compatible_evolution_is_accepted(registry: SchemaRegistryClient) -> None:
    subject = f"test-{uuid.uuid4().hex[:8]}-value"
    registry.register_schema(subject, Schema(json.dumps(PLAY_V1), "AVRO"))
    with_default = dict(PLAY_V1, fields=[*PLAY_V1["fields"], {"name": "device", "type": "string", "default": "tv"}])

    registry.register_schema(subject, Schema(json.dumps(with_default), "AVRO"))

    assert len(registry.get_versions(subject)) == 2


def test_backward_incompatible_version_is_rejected(registry: SchemaRegistryClient) -> None:
    subject = f"test-{uuid.uuid4().hex[:8]}-value"
    registry.register_schema(subject, Schema(json.dumps(PLAY_V1), "AVRO"))
    # A new required field without a default: readers of v2 cannot read data written with v1.
    breaking = dict(PLAY_V1, fields=[*PLAY_V1["fields"], {"name": "device", "type": "string"}])

    with pytest.raises(SchemaRegistryError) as rejected:
        registry.register_schema(subject, Schema(json.dumps(breaking), "AVRO"))

    assert rejected.value.http_status_code == 409
    assert len(registry.get_versions(subject)) == 1
