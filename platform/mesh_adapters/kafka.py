"""Kafka: client configurations and topic administration, all from the settings."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from mesh_config import MeshSettings

log = logging.getLogger(__name__)


def admin(settings: MeshSettings) -> AdminClient:
    return AdminClient(settings.kafka_client())


def _topics(client: AdminClient, wait_s: float = 60) -> dict[str, Any]:
    """The cluster's topics; a broker that is restarting (refusing connections for a few seconds) is
    waited for, up to `wait_s`, rather than failing whoever asked at that moment."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            topics: dict[str, Any] = client.list_topics(timeout=15).topics
            return topics
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._TRANSPORT or time.monotonic() > deadline:
                raise
            time.sleep(1)


def ensure_topics(settings: MeshSettings, names: list[str], partitions: int = 3, **config: str) -> dict[str, int]:
    """Create missing topics; returns every topic's partition count."""
    client = admin(settings)
    existing = _topics(client)
    missing = [
        NewTopic(n, num_partitions=partitions, replication_factor=1, config=config) for n in names if n not in existing
    ]
    if missing:
        for name, future in client.create_topics(missing).items():
            try:
                future.result(timeout=30)
            except Exception as exc:  # another process may have created it meanwhile
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise RuntimeError(f"cannot create topic {name}: {exc}") from exc
        for _ in range(50):  # metadata catches up with a creation shortly after it
            existing = _topics(client)
            if all(n in existing and existing[n].partitions for n in names):
                break
            time.sleep(0.1)
    return {n: len(existing[n].partitions) for n in names}


def producer(settings: MeshSettings, **extra: Any) -> Producer:
    return Producer(
        {
            **settings.kafka_client(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            **extra,
        }
    )


def fenced(exc: Exception) -> bool:
    """Another producer with the same transactional id took over: this one must step aside."""
    return isinstance(exc, KafkaException) and bool(exc.args) and exc.args[0].code() == KafkaError._FENCED


def fatal(exc: Exception) -> bool:
    """librdkafka gave up on the producer (after a long broker outage, a transaction in a state the
    broker no longer accepts): it never works again, only a new one does."""
    if not (isinstance(exc, KafkaException) and exc.args):
        return False
    error = exc.args[0]
    # A transactional call that timed out stays "in progress" inside librdkafka: every later call
    # conflicts with it (seen in CI for minutes after a broker restart), so that producer is done too.
    return bool(error.fatal()) or error.code() == KafkaError._CONFLICT


def close_producers(producers: Iterable[Producer]) -> None:
    """Kafka clients keep connections and threads of their own: they go with their owner, rather than
    retrying a broker that may be gone when the process lives on (an embedding test, say)."""
    for producer in producers:
        try:
            producer.flush(5)
            producer.close()
        except Exception as exc:
            log.debug("closing a producer: %s", exc)


def consumer(settings: MeshSettings, group: str, **extra: Any) -> Consumer:
    return Consumer(
        {
            **settings.kafka_client(),
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.partition.eof": False,
            **extra,
        }
    )


class Kafka(Protocol):
    """The Kafka clients a product creates. `KafkaClients` makes real ones; a test may pass fakes."""

    def producer(self, **extra: Any) -> Producer: ...

    def consumer(self, group: str, **extra: Any) -> Consumer: ...

    def ensure_topics(self, names: list[str], partitions: int = 3, **config: str) -> dict[str, int]: ...


class KafkaClients:
    """Clients of the mesh's Kafka cluster, configured from the settings."""

    def __init__(self, settings: MeshSettings) -> None:
        self.settings = settings

    def producer(self, **extra: Any) -> Producer:
        return producer(self.settings, **extra)

    def consumer(self, group: str, **extra: Any) -> Consumer:
        return consumer(self.settings, group, **extra)

    def ensure_topics(self, names: list[str], partitions: int = 3, **config: str) -> dict[str, int]:
        return ensure_topics(self.settings, names, partitions, **config)


def reachable(client: AdminClient, timeout_s: float = 3.0) -> bool:
    """Whether the broker answers a metadata request now. Admin requests sent while it is away time out
    in librdkafka and, in this version, can abort the whole process (an assertion on their
    completion), so their callers ask this first."""
    try:
        client.list_topics(timeout=timeout_s)
    except KafkaException:
        return False
    return True


def committed_offsets(
    settings: MeshSettings, client: AdminClient, prefixes: Iterable[str]
) -> dict[tuple[str, str, int], int]:
    """The committed offsets of every consumer group whose name starts with one of `prefixes`, by
    (group, topic, partition). Each group's are read the way its own consumers read them (a consumer
    in that group, which never joins it, asks for every partition), not with the admin client's
    ListConsumerGroupOffsets: in librdkafka 2.16 a coordinator request of the admin client whose
    connection drops aborts the whole process (confluentinc/librdkafka#5397), which a broker restart
    did to the catalog."""
    from confluent_kafka import TopicPartition

    wanted = tuple(prefixes)
    listed = client.list_consumer_groups(request_timeout=15).result(timeout=15)
    groups = [g.group_id for g in listed.valid if wanted and g.group_id.startswith(wanted)]
    if not groups:
        return {}
    topics = client.list_topics(timeout=15).topics
    partitions = [
        TopicPartition(name, p) for name, topic in topics.items() if not name.startswith("_") for p in topic.partitions
    ]
    offsets: dict[tuple[str, str, int], int] = {}
    for group in groups:
        reader = Consumer({**settings.kafka_client(), "group.id": group, "enable.auto.commit": False, "log_level": 0})
        try:
            for tp in reader.committed(partitions, timeout=15):
                if tp.error is None and tp.offset >= 0:
                    offsets[(group, tp.topic, tp.partition)] = tp.offset
        finally:
            reader.close()
    return offsets


def end_offsets(settings: MeshSettings, topic: str) -> dict[int, int]:
    """Each partition's next offset: where records written from now on will start ({} for no topic)."""
    import uuid

    from confluent_kafka import TopicPartition

    reader = Consumer({**settings.kafka_client(), "group.id": f"mesh-offsets-{uuid.uuid4().hex[:8]}", "log_level": 0})
    try:
        metadata = reader.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return {}
        return {p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in metadata.partitions}
    finally:
        reader.close()


def read_since(settings: MeshSettings, topic: str, offsets: dict[int, int], timeout_s: float = 30) -> list[Any]:
    """The records of `topic` from `offsets` (as end_offsets gave them) to its end now, as a product's
    consumers read them: of a transactional producer, only what it committed (the client's default)."""
    import uuid

    from confluent_kafka import TopicPartition

    todo = {p: end for p, end in end_offsets(settings, topic).items() if end > offsets.get(p, 0)}
    if not todo:
        return []
    group = f"mesh-read-{uuid.uuid4().hex[:8]}"
    reader = Consumer({**settings.kafka_client(), "group.id": group, "enable.auto.commit": False, "log_level": 0})
    found: list[Any] = []
    try:
        reader.assign([TopicPartition(topic, p, offsets.get(p, 0)) for p in todo])
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            message = reader.poll(0.5)
            if message is not None and message.error() is None:
                found.append(message)
            # The position passes transaction markers and aborted records, which are never delivered.
            for position in reader.position([TopicPartition(topic, p) for p in list(todo)]):
                if position.offset >= todo[position.partition]:
                    todo.pop(position.partition, None)
    finally:
        reader.close()
    return found
