"""The playback traffic generator against a real Kafka and schema registry: what it sends is what a
consumer reads back, kind by kind, session by session."""

from __future__ import annotations

import datetime as dt
import re
import socket
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
import typer
from confluent_kafka import Consumer, KafkaException, Message
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from typer.testing import CliRunner

from mesh_cli.generate import generate_app
from mesh_config import MeshSettings, load_settings
from mesh_generate import (
    AvroMessage,
    Catalogue,
    Imperfections,
    Kind,
    Outgoing,
    PlaybackRecord,
    PlaybackSimulator,
    PlaybackTraffic,
    Population,
    send_traffic,
)
from mesh_generate.errors import ServiceUnreachable
from mesh_generate.kafka_sink import PARTITIONS, KafkaPlaybackSink

pytestmark = pytest.mark.integration

CATALOGUE = Catalogue.generate(50)
SENT = 300


@pytest.fixture
def topic(mesh_services: MeshSettings) -> Iterator[str]:
    """A fresh input topic name; the topic and its registry subject are removed afterwards."""
    name = f"test.generate.{uuid.uuid4().hex[:8]}.v1"
    yield name
    admin = AdminClient(mesh_services.kafka_client())
    if name in admin.list_topics(timeout=10).topics:
        admin.delete_topics([name])[name].result(timeout=30)
    registry = SchemaRegistryClient({"url": mesh_services.schema_registry_url})
    if f"{name}-value" in registry.get_subjects():
        registry.delete_subject(f"{name}-value")
        registry.delete_subject(f"{name}-value", permanent=True)


def consume(settings: MeshSettings, topic: str, expected: int, max_empty_polls: int = 40) -> list[Message]:
    """Read the topic from the start until `expected` messages came, then make sure no more follow."""
    consumer = Consumer(
        {
            **settings.kafka_client(),
            "group.id": f"test-generate-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got: list[Message] = []
    empty = 0
    try:
        while empty < max_empty_polls and (len(got) < expected or empty < 4):
            msg = consumer.poll(0.5)
            if msg is None:
                empty += 1
                continue
            if msg.error():
                raise KafkaException(msg.error())
            got.append(msg)
    finally:
        consumer.close()
    return got


def recorded(messages: Iterable[Outgoing], into: list[Outgoing]) -> Iterator[Outgoing]:
    for message in messages:
        into.append(message)
        yield message


def as_sent(decoded: dict[str, Any]) -> PlaybackRecord:
    """A decoded record in the generator's terms: the reader turns logical types into Python objects."""
    occurred_at: dt.datetime = decoded["occurred_at"]
    return PlaybackRecord(
        event_id=str(decoded["event_id"]),
        session_id=str(decoded["session_id"]),
        customer_id=decoded["customer_id"],
        title_id=decoded["title_id"],
        event_type=decoded["event_type"],
        position_ms=decoded["position_ms"],
        occurred_at=round(occurred_at.timestamp() * 1000),
        device=decoded["device"],
        country=decoded["country"],
        app_version=decoded["app_version"],
    )


def breaks_contract(record: PlaybackRecord) -> bool:
    """The quality rules of products/playback.events/contract.yaml."""
    return not 0 <= record["position_ms"] <= 21_600_000 or re.fullmatch(r"[A-Z]{2}", record["country"]) is None


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_sent_traffic_reads_back_kind_by_kind(mesh_services: MeshSettings, topic: str) -> None:
    sink = KafkaPlaybackSink.connect(mesh_services, topic)
    simulator = PlaybackSimulator(
        CATALOGUE, Population.generate(100), concurrent_sessions=10, seed=21, start_ms=time.time_ns() // 10**6
    )
    imperfect = Imperfections(late_fraction=0.06, duplicate_fraction=0.06, malformed_fraction=0.15)
    sent: list[Outgoing] = []

    tally = send_traffic(recorded(PlaybackTraffic(simulator, imperfect, seed=21), sent), sink, rate=2_000, count=SENT)
    received = consume(mesh_services, topic, SENT)

    sent_kinds = Counter(m.kind for m in sent)
    assert tally.by_kind == sent_kinds
    assert set(sent_kinds) == set(Kind)
    assert (tally.deliveries.delivered, tally.deliveries.failed, tally.undelivered) == (SENT, 0, 0)
    assert len(received) == SENT

    # Keyed by session: each session's messages sit in one partition, in the order they were sent.
    partitions = AdminClient(mesh_services.kafka_client()).list_topics(topic)
    assert len(partitions.topics[topic].partitions) == PARTITIONS
    expected_by_key: dict[str, list[bytes]] = defaultdict(list)
    for message in sent:
        expected_by_key[message.key].append(sink.encode(message))
    received_by_key: dict[str, list[bytes]] = defaultdict(list)
    partition_of_key: dict[str, set[int]] = defaultdict(set)
    for msg in received:
        received_by_key[msg.key().decode()].append(msg.value())
        partition_of_key[msg.key().decode()].add(msg.partition())
    assert received_by_key == expected_by_key
    assert all(len(p) == 1 for p in partition_of_key.values())

    deserializer = AvroDeserializer(SchemaRegistryClient({"url": mesh_services.schema_registry_url}))
    context = SerializationContext(topic, MessageField.VALUE)
    decoded: list[PlaybackRecord] = []
    unreadable = 0
    for msg in received:
        try:
            decoded.append(as_sent(deserializer(msg.value(), context)))
        except Exception:
            unreadable += 1
    assert unreadable == sent_kinds[Kind.UNDECODABLE] + sent_kinds[Kind.SCHEMA_INVALID]
    readable_sent = [m.record for m in sent if isinstance(m, AvroMessage) and m.wire_defect is None]
    assert sorted(decoded, key=lambda r: r["event_id"]) == sorted(readable_sent, key=lambda r: r["event_id"])
    repeats = sum(n - 1 for n in Counter(r["event_id"] for r in decoded).values())
    assert repeats == sent_kinds[Kind.DUPLICATE]
    assert sum(breaks_contract(r) for r in decoded) == sent_kinds[Kind.CONTRACT_BREAKING]


def test_the_command_sends_a_count_and_summarises(
    mesh_services: MeshSettings, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESH_KAFKA_BOOTSTRAP", mesh_services.bootstrap_servers)
    monkeypatch.setenv("MESH_REGISTRY_URL", mesh_services.schema_registry_url)
    mesh = typer.Typer()
    mesh.add_typer(generate_app, name="generate")

    result = CliRunner().invoke(
        mesh, ["generate", "playback", "--count", "60", "--rate", "500", "--seed", "3", "--topic", topic]
    )

    output = " ".join(result.output.split())
    assert result.exit_code == 0, output
    assert f"done: 60 messages to {topic}" in output
    assert "seed 3" in output
    assert len(consume(mesh_services, topic, 60)) == 60


def test_an_unreachable_registry_is_named(mesh_services: MeshSettings, topic: str) -> None:
    registry_url = f"http://127.0.0.1:{unused_port()}/apis/ccompat/v7"
    settings = load_settings(kafka_bootstrap=mesh_services.bootstrap_servers, registry_url=registry_url)

    with pytest.raises(ServiceUnreachable) as unreachable:
        KafkaPlaybackSink.connect(settings, topic)

    assert (
        str(unreachable.value) == f"cannot reach the schema registry at {registry_url}: is the stack up? run `mesh up`"
    )
