"""Kafka semantics the mesh relies on: idempotent acks=all producers, group commits, transactions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from mesh_config import MeshSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(mesh_services: MeshSettings) -> Iterator[str]:
    name = f"test.kafka.{uuid.uuid4().hex[:8]}.v1"
    admin = AdminClient(mesh_services.kafka_client())
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(timeout=30)
    yield name
    admin.delete_topics([name])[name].result(timeout=30)


def _consumer(settings: MeshSettings, group: str, **extra: str) -> Consumer:
    return Consumer(
        {
            **settings.kafka_client(),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **extra,
        }
    )


def _drain(consumer: Consumer, expected: int, max_polls: int = 60) -> list[Message]:
    """Poll until `expected` records arrived or the (bounded) number of empty polls ran out."""
    got: list[Message] = []
    empty = 0
    while len(got) < expected and empty < max_polls:
        msg = consumer.poll(0.5)
        if msg is None:
            empty += 1
            continue
        if msg.error():
            raise KafkaException(msg.error())
        got.append(msg)
    return got


def test_idempotent_producer_with_acks_all(mesh_services: MeshSettings, topic: str) -> None:
    producer = Producer({**mesh_services.kafka_client(), "enable.idempotence": True, "acks": "all"})
    delivered: list[int] = []
    for i in range(100):
        producer.produce(topic, key=str(i), value=f"v{i}", on_delivery=lambda err, msg: delivered.append(msg.offset()))
    assert producer.flush(30) == 0

    assert sorted(delivered) == list(range(100))
    consumer = _consumer(mesh_services, f"g-{uuid.uuid4().hex[:6]}")
    consumer.subscribe([topic])
    values = [m.value() for m in _drain(consumer, 100)]
    consumer.close()
    assert values == [f"v{i}".encode() for i in range(100)]


def test_consumer_group_commits_and_resumes(mesh_services: MeshSettings, topic: str) -> None:
    producer = Producer(mesh_services.kafka_client())
    for i in range(10):
        producer.produce(topic, value=str(i))
    producer.flush(30)
    group = f"g-{uuid.uuid4().hex[:6]}"

    first = _consumer(mesh_services, group)
    first.subscribe([topic])
    batch = _drain(first, 4)[:4]
    first.commit(message=batch[-1], asynchronous=False)
    first.close()

    second = _consumer(mesh_services, group)
    second.subscribe([topic])
    rest = _drain(second, 6)
    committed = second.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    second.close()

    assert [m.value() for m in batch] == [b"0", b"1", b"2", b"3"]
    assert [m.value() for m in rest] == [str(i).encode() for i in range(4, 10)]
    assert committed == 4


def test_read_committed_consumer_sees_committed_transactions_only(mesh_services: MeshSettings, topic: str) -> None:
    producer = Producer(
        {
            **mesh_services.kafka_client(),
            "transactional.id": f"tx-{uuid.uuid4().hex[:6]}",
        }
    )
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, value=f"committed-{i}")
    producer.commit_transaction(30)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, value=f"aborted-{i}")
    producer.flush(30)
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, value="committed-last")
    producer.commit_transaction(30)

    committed_reader = _consumer(mesh_services, f"g-{uuid.uuid4().hex[:6]}", **{"isolation.level": "read_committed"})
    committed_reader.subscribe([topic])
    seen = [m.value() for m in _drain(committed_reader, 4)]
    assert _drain(committed_reader, 1, max_polls=4) == []
    committed_reader.close()

    assert seen == [b"committed-0", b"committed-1", b"committed-2", b"committed-last"]
