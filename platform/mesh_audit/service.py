"""The audit log service: every change event of the mesh, appended exactly once to both stores.

Per micro-batch: decode every message (an unreadable one is recorded too, and sent to the dead-letter
topic before the commit: at least once); link the records to the chain; ONE Iceberg append holds the
records and the consumed offsets; then the batch becomes one locked object. The table is the truth:
a restart resumes from its offsets and its last record, and writes the objects it lacks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from mesh_adapters import kafka
from mesh_adapters.avro import AvroWireReader
from mesh_adapters.lakehouse import iceberg_catalog
from mesh_adapters.s3 import s3_client
from mesh_audit.config import (
    ACCESS_PATTERN,
    CDC_PATTERN,
    DEADLETTER_TOPIC,
    PREFIX,
    STREAM_PATTERN,
    TABLE,
    AuditOptions,
)
from mesh_audit.decode import ChangeReader, RawMessage, Unreadable
from mesh_audit.locked_store import DEFAULT_RETENTION, LockedChainStore
from mesh_audit.log_table import AuditTable
from mesh_audit.record import AuditRecord, ChainHead, Change, link_all
from mesh_config import MeshSettings
from mesh_sdk.ingest.deadletter import DeadLetter
from mesh_sdk.observe.outcome import Defect
from mesh_sdk.storage.history import Offsets
from mesh_sdk.storage.maintenance import Upkeep

log = logging.getLogger(__name__)

SERVICE_ID = "urn:mesh:platform:audit-log:v1"  # names the service in dead-letter headers


@dataclass
class BatchResult:
    consumed: int = 0
    tombstones: int = 0
    unreadable: int = 0
    records: list[AuditRecord] = field(default_factory=list)
    snapshot_id: int | None = None
    objects: list[str] = field(default_factory=list)


@dataclass
class AuditStats:
    batches: int = 0
    records: int = 0
    unreadable: int = 0
    tombstones: int = 0
    objects_written: int = 0
    objects_healed: int = 0
    failures: int = 0


def _raw(msg: Any) -> RawMessage:
    kind, ms = msg.timestamp()
    return RawMessage(
        topic=msg.topic(),
        partition=msg.partition(),
        offset=msg.offset(),
        timestamp_ms=ms if kind != 0 else None,  # 0: TIMESTAMP_NOT_AVAILABLE
        key=msg.key(),
        value=msg.value(),
        headers=tuple(msg.headers() or ()),
    )


class AuditService:
    def __init__(
        self,
        settings: MeshSettings,
        *,
        table_name: str = TABLE,
        object_prefix: str = PREFIX,
        cdc_pattern: str = CDC_PATTERN,
        stream_pattern: str = STREAM_PATTERN,
        access_pattern: str = ACCESS_PATTERN,
        deadletter_topic: str = DEADLETTER_TOPIC,
        group_id: str | None = None,
        batch_size: int = 5000,
        batch_interval_s: float = 0.2,
        retention: timedelta = DEFAULT_RETENTION,
        metadata_refresh_ms: int = 5000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_batch: Callable[[BatchResult], None] = lambda _: None,
    ) -> None:
        for pattern in (cdc_pattern, stream_pattern, access_pattern):
            if not pattern.startswith("^"):
                raise ValueError(f"topic pattern {pattern!r} must begin with ^ (a Kafka regex subscription)")
        self.settings = settings
        self.patterns = [cdc_pattern, stream_pattern, access_pattern]
        self.reader = ChangeReader(
            AvroWireReader(SchemaRegistryClient({"url": settings.schema_registry_url})),
            cdc_pattern,
            stream_pattern,
            access_pattern,
        )
        if self.reader.kind(deadletter_topic) is not None:
            raise ValueError(f"the dead-letter topic {deadletter_topic!r} must not be audited itself (a loop)")
        self.deadletter_topic = deadletter_topic
        self.group_id = group_id or f"mesh.audit.{table_name}"
        self.batch_size = batch_size
        self.batch_interval_s = batch_interval_s
        self.metadata_refresh_ms = metadata_refresh_ms
        self.clock = clock
        self.on_batch = on_batch
        self.log = AuditTable.ensure(iceberg_catalog(settings), table_name, Upkeep.from_settings(settings))
        self.objects = LockedChainStore(s3_client(settings), settings.audit_bucket, object_prefix, retention)
        self.deadletters = kafka.producer(settings)
        self.stats = AuditStats()
        self.head = ChainHead()
        self.position: Offsets = {}  # next offset to read, per topic and partition
        self.objects_through = 0  # the highest sequence known to be in a locked object
        self.consumer: Consumer | None = None
        self._stopping = threading.Event()
        self._dirty = False  # a batch failed: memory may be ahead of the table
        self._closed = False

    @classmethod
    def from_options(
        cls, settings: MeshSettings, options: AuditOptions, on_batch: Callable[[BatchResult], None] = lambda _: None
    ) -> AuditService:
        return cls(
            settings,
            table_name=options.table,
            object_prefix=options.object_prefix,
            cdc_pattern=options.cdc_pattern,
            stream_pattern=options.stream_pattern,
            access_pattern=options.access_pattern,
            deadletter_topic=options.deadletter_topic,
            batch_size=options.batch_size,
            batch_interval_s=options.batch_interval_ms / 1000,
            retention=options.retention,
            metadata_refresh_ms=options.metadata_refresh_ms,
            on_batch=on_batch,
        )

    # --- start: where the table says ------------------------------------------------------------------

    def start(self) -> None:
        self.objects.check_object_lock()
        kafka.ensure_topics(self.settings, [self.deadletter_topic], partitions=1)
        self._resume()
        self._heal_objects()
        self._subscribe()
        log.info(
            "audit log resumes after sequence %d; %d topic partitions committed; watching %s",
            self.head.sequence,
            sum(len(p) for p in self.position.values()),
            " and ".join(self.patterns),
        )

    def _resume(self) -> None:
        self.log.refresh()
        self.position = self.log.committed_offsets()
        self.head = self.log.head()

    def _subscribe(self) -> None:
        self.consumer = kafka.consumer(
            self.settings,
            self.group_id,
            **{
                "isolation.level": "read_committed",
                # New topics are picked up by the regex subscription at the next metadata refresh.
                "topic.metadata.refresh.interval.ms": self.metadata_refresh_ms,
                # A restarted service rejoins quickly after its predecessor died without leaving.
                "session.timeout.ms": 10000,
            },
        )
        self.consumer.subscribe(self.patterns, on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Memory, not the group's offsets: it includes what the batch in progress consumed (a new
        # topic triggers a rebalance mid-batch), and it was set from the table at start.
        for tp in partitions:
            tp.offset = self.position.get(tp.topic, {}).get(tp.partition, OFFSET_BEGINNING)
        consumer.assign(partitions)
        log.debug("assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.unassign()

    # --- locked objects: after the table, healed from it ---------------------------------------------

    def _heal_objects(self) -> list[str]:
        """Write objects for committed records no object holds yet (a crash or an S3 failure between
        the table commit and the object write). Only the tail after the newest object is written: the
        objects before it are the other store's evidence, never rewritten from this one."""
        self.objects_through = max(self.objects_through, self.objects.frontier())
        if self.objects_through >= self.head.sequence:
            return []
        missing = self.log.records(after=self.objects_through)
        keys = []
        for i in range(0, len(missing), self.batch_size):
            chunk = missing[i : i + self.batch_size]
            keys.append(self.objects.put(chunk))
            self.objects_through = chunk[-1].sequence
        if missing:
            self.stats.objects_healed += len(keys)
            log.warning(
                "wrote locked objects for sequences %d-%d: committed to the table, missing from the bucket",
                missing[0].sequence,
                missing[-1].sequence,
            )
        return keys

    def _write_object(self, records: list[AuditRecord]) -> list[str]:
        first = records[0].sequence
        if self.objects_through < first - 1:
            return self._heal_objects()  # the batch is committed: the heal writes it with the gap before it
        if self.objects_through >= first:
            log.error(
                "a locked object already claims sequence %d (objects reach %d): not writing %d-%d again; "
                "run `mesh audit verify`",
                first,
                self.objects_through,
                first,
                records[-1].sequence,
            )
            return []
        key = self.objects.put(records)
        self.objects_through = records[-1].sequence
        self.stats.objects_written += 1
        return [key]

    # --- the loop -------------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self) -> None:
        """Batches until stop(); a failing batch is retried from the table's state, with backoff."""
        backoff = 1.0
        try:
            while not self._stopping.is_set():
                try:
                    self.step()
                    backoff = 1.0
                except Exception:
                    self._dirty = True
                    self.stats.failures += 1
                    log.exception("audit batch failed; resuming from the table's last commit in %.0f s", backoff)
                    self._stopping.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
        finally:
            self.close()

    def close(self) -> None:
        """Leave the consumer group and let go of the clients (run() does it when it ends)."""
        if self.consumer is not None:
            try:
                self.consumer.close()
            except Exception as exc:
                log.debug("consumer close: %s", exc)
            self.consumer = None
        if not self._closed:
            self._closed = True
            self.deadletters.flush(10)
            self.deadletters.close()

    def step(self) -> BatchResult:
        if self._dirty:
            self._rewind()
        if self.objects_through < self.head.sequence:
            self._heal_objects()
        return self.process(self.poll())

    def _rewind(self) -> None:
        """Forget what memory holds beyond the table: position, chain head, and the consumer's
        fetch position (a new consumer is assigned from the table's offsets)."""
        if self.consumer is not None:
            try:
                self.consumer.close()
            except Exception as exc:
                log.debug("consumer close: %s", exc)
            self.consumer = None
        self._resume()
        self._subscribe()
        self._dirty = False

    def poll(self) -> list[RawMessage]:
        """A micro-batch: the first message, then whatever arrives within batch_interval_s of it."""
        assert self.consumer is not None, "start() first"
        batch: list[RawMessage] = []
        deadline: float | None = None
        idle_deadline = time.monotonic() + 0.5  # come back to check for stop() when nothing arrives
        while len(batch) < self.batch_size and not self._stopping.is_set():
            now = time.monotonic()
            remaining = (deadline if deadline is not None else idle_deadline) - now
            if remaining <= 0:
                break
            for msg in self.consumer.consume(min(1000, self.batch_size - len(batch)), timeout=min(remaining, 0.2)):
                err = msg.error()
                if err is None:
                    batch.append(_raw(msg))
                elif err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    log.debug("%s", err)  # a pattern no topic matches yet: normal until one is created
                elif err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
            if batch and deadline is None:
                deadline = time.monotonic() + self.batch_interval_s
        return batch

    def process(self, messages: Iterable[RawMessage]) -> BatchResult:
        result = BatchResult()
        changes: list[Change] = []
        dead: list[DeadLetter] = []
        for msg in messages:
            result.consumed += 1
            self.position.setdefault(msg.topic, {})[msg.partition] = msg.offset + 1
            read = self.reader.read(msg)
            if read is None:
                result.tombstones += 1
            elif isinstance(read, Unreadable):
                result.unreadable += 1
                changes.append(read.change)
                dead.append(
                    DeadLetter(
                        Defect.UNDECODABLE, read.reason, msg.topic, msg.partition, msg.offset, msg.key, msg.value
                    )
                )
            else:
                changes.append(read)
        if dead:
            self._send_dead_letters(dead)
        if changes:
            now = self.clock()
            records = link_all(changes, self.head, now)
            commit = self.log.append(records, self.position, now.isoformat())
            self.head = ChainHead.after(records[-1])
            result.records, result.snapshot_id = records, commit.snapshot_id
            result.objects = self._write_object(records)
            self._commit_group_offsets()
        self._count(result)
        self.on_batch(result)
        return result

    def _send_dead_letters(self, dead: list[DeadLetter]) -> None:
        for d in dead:
            self.deadletters.produce(self.deadletter_topic, key=d.key, value=d.value, headers=d.headers(SERVICE_ID))
        # Before the commit: after a crash a dead letter may be sent twice, never lost.
        remaining = self.deadletters.flush(30)
        if remaining:
            raise RuntimeError(f"{remaining} dead letters were not acknowledged by Kafka")

    def _commit_group_offsets(self) -> None:
        # Informational only (lag tools read the group's offsets): the table's snapshot is the truth.
        if self.consumer is None:
            return
        positions = [TopicPartition(t, p, o) for t, parts in self.position.items() for p, o in parts.items()]
        try:
            assigned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
            mine = [tp for tp in positions if (tp.topic, tp.partition) in assigned]
            if mine:
                self.consumer.commit(offsets=mine, asynchronous=True)
        except Exception as exc:
            log.debug("group offset commit failed: %s", exc)

    def _count(self, result: BatchResult) -> None:
        s = self.stats
        s.tombstones += result.tombstones
        if result.records:
            s.batches += 1
            s.records += len(result.records)
            s.unreadable += result.unreadable
            log.debug(
                "recorded sequences %d-%d (%d unreadable, %d tombstones skipped)",
                result.records[0].sequence,
                result.records[-1].sequence,
                result.unreadable,
                result.tombstones,
            )
