"""Kafka: client configurations and topic administration, all from the settings."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from mesh_config import MeshSettings


def admin(settings: MeshSettings) -> AdminClient:
    return AdminClient(settings.kafka_client())


def ensure_topics(settings: MeshSettings, names: list[str], partitions: int = 3, **config: str) -> dict[str, int]:
    """Create missing topics; returns every topic's partition count."""
    client = admin(settings)
    existing = client.list_topics(timeout=15).topics
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
            existing = client.list_topics(timeout=15).topics
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
