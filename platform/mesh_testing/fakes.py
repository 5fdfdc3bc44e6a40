"""Fakes of the servers a product talks to, for tests that exercise a product's runtime with no server:
an in-memory Kafka with transactions (what is produced inside one is visible to readers once it
commits, as with `isolation.level=read_committed`), a schema registry, and an Iceberg catalog in a
SQLite file with its warehouse on the local disk (pyiceberg's own SQL catalog: not a fake, but no
server either). `fake_clients` passes them to `build_runtime` (mesh_sdk.runtime.compose)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from confluent_kafka.schema_registry import Schema
from pyiceberg.catalog.sql import SqlCatalog

from mesh_sdk.runtime.clients import Clients


@dataclass(frozen=True)
class FakeMessage:
    topic_: str
    partition_: int
    offset_: int
    key_: bytes | None
    value_: bytes | None
    headers_: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp_ms: int = 0

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def key(self) -> bytes | None:
        return self.key_

    def value(self) -> bytes | None:
        return self.value_

    def headers(self) -> list[tuple[str, bytes]]:
        return self.headers_

    def timestamp(self) -> tuple[int, int]:
        return 1, self.timestamp_ms

    def error(self) -> None:
        return None


class FakeKafka:
    """Topics as lists of messages per partition, and the clients that read and write them."""

    def __init__(self) -> None:
        self.topics: dict[str, list[list[FakeMessage]]] = {}

    def ensure_topics(self, names: list[str], partitions: int = 3, **config: str) -> dict[str, int]:
        for name in names:
            self.topics.setdefault(name, [[] for _ in range(partitions)])
        return {name: len(self.topics[name]) for name in names}

    def append(
        self, topic: str, partition: int, key: bytes | None, value: bytes | None, headers: Any = None
    ) -> FakeMessage:
        log = self.topics[topic][partition]
        message = FakeMessage(topic, partition, len(log), key, value, list(headers or []))
        log.append(message)
        return message

    def messages(self, topic: str) -> list[FakeMessage]:
        return [m for log in self.topics.get(topic, []) for m in log]

    def producer(self, **extra: Any) -> Any:
        return FakeProducer(self, transactional="transactional.id" in extra)

    def consumer(self, group: str, **extra: Any) -> Any:
        return FakeConsumer(self)


class FakeProducer:
    def __init__(self, kafka: FakeKafka, transactional: bool) -> None:
        self.kafka = kafka
        self.transactional = transactional
        self.pending: list[tuple[str, bytes | None, bytes | None, Any]] | None = None
        self.commits = 0
        self.fail_next_commit: Exception | None = None  # a test makes the next commit fail with it

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: Any = None,
        on_delivery: Callable[..., None] | None = None,
        **_: Any,
    ) -> None:
        if self.pending is not None:
            self.pending.append((topic, key, value, headers))
            return
        assert not self.transactional, "a transactional producer produces inside a transaction"
        self._write(topic, key, value, headers)

    def _write(self, topic: str, key: bytes | None, value: bytes | None, headers: Any) -> None:
        partitions = len(self.kafka.topics[topic])
        partition = hash(key) % partitions if key is not None else 0
        self.kafka.append(topic, partition, key, value, headers)

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0

    def init_transactions(self, timeout: float = 0) -> None:
        self.pending = None

    def begin_transaction(self) -> None:
        self.pending = []

    def commit_transaction(self, timeout: float = 0) -> None:
        if self.fail_next_commit is not None:
            failure, self.fail_next_commit = self.fail_next_commit, None
            raise failure
        for topic, key, value, headers in self.pending or []:
            self._write(topic, key, value, headers)
        self.pending = None
        self.commits += 1

    def abort_transaction(self, timeout: float = 0) -> None:
        self.pending = None

    def purge(self) -> None:
        self.pending = None

    def close(self) -> None:
        pass


class FakeConsumer:
    def __init__(self, kafka: FakeKafka) -> None:
        self.kafka = kafka
        self.positions: dict[tuple[str, int], int] = {}
        self.committed: list[TopicPartition] = []

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.positions = {
            (tp.topic, tp.partition): 0 if tp.offset in (OFFSET_BEGINNING, -1001) else tp.offset for tp in partitions
        }

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[FakeMessage]:
        out: list[FakeMessage] = []
        for (topic, partition), position in self.positions.items():
            log = self.kafka.topics.get(topic, [])[partition]
            taken = log[position : position + num_messages - len(out)]
            self.positions[(topic, partition)] = position + len(taken)
            out += taken
            if len(out) >= num_messages:
                break
        return out

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [
            TopicPartition(tp.topic, tp.partition, self.positions.get((tp.topic, tp.partition), 0)) for tp in partitions
        ]

    def unassign(self) -> None:
        self.positions = {}

    def get_watermark_offsets(self, partition: TopicPartition, timeout: float = 0, cached: bool = False) -> Any:
        return 0, len(self.kafka.topics[partition.topic][partition.partition])

    def commit(self, offsets: list[TopicPartition] | None = None, asynchronous: bool = True) -> None:
        self.committed = list(offsets or [])

    def close(self) -> None:
        pass


class FakeRegistry:
    """Schemas by id; one id per distinct schema, as a registry gives."""

    def __init__(self) -> None:
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, int] = {}

    def register_schema(self, subject: str, schema: Schema, normalize_schemas: bool = False) -> int:
        text = json.dumps(json.loads(schema.schema_str or "null"), sort_keys=True)
        schema_id = next((i for i, s in self.schemas.items() if s == text), len(self.schemas) + 1)
        self.schemas[schema_id] = text
        self.subjects[subject] = schema_id
        return schema_id

    def get_schema(self, schema_id: int, **_: Any) -> Schema:
        return Schema(self.schemas[schema_id], "AVRO")


class MemoryArtifacts:
    """An artifact store in memory: versions of named files."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}

    def put(self, version: str, name: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        self.files[(version, name)] = data
        return f"memory://{version}/{name}"

    def get(self, version: str, name: str) -> bytes:
        return self.files[(version, name)]

    def versions(self) -> list[str]:
        return sorted({version for version, _ in self.files})

    def delete(self, version: str) -> None:
        for key in [k for k in self.files if k[0] == version]:
            del self.files[key]


class NoArtifacts:
    def put(self, version: str, name: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        raise NotImplementedError("no artifact store in this test")

    def get(self, version: str, name: str) -> bytes:
        raise NotImplementedError("no artifact store in this test")

    def versions(self) -> list[str]:
        return []

    def delete(self, version: str) -> None:
        raise NotImplementedError("no artifact store in this test")


def fake_clients(folder: Path, namespaces: list[str]) -> tuple[Clients, FakeKafka, FakeRegistry]:
    """Clients with no server behind them: the lakehouse is a SQLite catalog and a warehouse under
    `folder`, with `namespaces` made."""
    warehouse = folder / "warehouse"
    warehouse.mkdir(parents=True, exist_ok=True)
    catalog = SqlCatalog("fake", uri=f"sqlite:///{folder / 'catalog.db'}", warehouse=f"file://{warehouse}")
    for namespace in namespaces:
        catalog.create_namespace_if_not_exists(namespace)
    kafka, registry = FakeKafka(), FakeRegistry()
    clients = Clients(
        kafka=kafka,
        registry=registry,
        catalog=catalog,
        duckdb=duckdb.connect,
        artifacts=lambda prefix: NoArtifacts(),
    )
    return clients, kafka, registry
