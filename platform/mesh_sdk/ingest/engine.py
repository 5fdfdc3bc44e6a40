"""The input port's engine: Kafka micro-batches into the history table, exactly once.

Per batch: decode (Avro through the registry), apply the product's logic, check the contract, drop
duplicates; dead letters go out first (at least once, marked with their source coordinates); then one
Iceberg snapshot holds the rows *and* the input offsets; then the output stream's transaction commits.
A crash anywhere resumes from the offsets of the last snapshot."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, Producer, TopicPartition
from pyiceberg.expressions import GreaterThanOrEqual
from pyiceberg.table import Table

from mesh_adapters import kafka
from mesh_adapters.avro import AvroWireEncoder
from mesh_sdk.ingest.batch import Accepted, Decode, Incoming, RecentKeys, accept, advance, sort_batch
from mesh_sdk.ingest.deadletter import DeadLetter
from mesh_sdk.ingest.platform_columns import with_platform_columns
from mesh_sdk.ingest.stall_watch import StallWatch
from mesh_sdk.observe.outcome import BatchOutcome
from mesh_sdk.observe.quality import RecordRule, compile_rules
from mesh_sdk.spec.keys import row_key
from mesh_sdk.spec.logic import BatchContext
from mesh_sdk.spec.product import DataProduct
from mesh_sdk.storage.history import (
    BATCH_AT,
    Offsets,
    append_with_offsets,
    committed_offsets,
    recent_batches,
    retire_inputs,
)
from mesh_sdk.storage.maintenance import Upkeep, default_upkeep

log = logging.getLogger(__name__)


WATCH_EVERY_S = 5.0  # how often the ingest asks the broker how far behind it is (see `_watch`)


class Ingestor:
    def __init__(
        self,
        product: DataProduct,
        table: Table,
        consumer: Consumer,
        stream_producer: Producer,
        deadletter_producer: Producer,
        decoders: Mapping[str, Decode],
        stream_encoder: AvroWireEncoder,
        rules: list[RecordRule],
        arrow_schema: pa.Schema,
        *,
        stream_topic: str,
        deadletter_topic: str,
        key_columns: list[str],
        stream_key_columns: list[str] | None = None,
        batch_size: int = 5000,
        batch_interval_s: float = 1.0,
        dedupe_capacity: int = 1_000_000,
        on_batch: Callable[[BatchOutcome], None] = lambda _: None,
        new_stream_producer: Callable[[], Producer] | None = None,
        upkeep: Upkeep | None = None,
        close_stream_gap: Callable[[], None] = lambda: None,
    ) -> None:
        self.product = product
        self.table = table
        self.consumer = consumer
        self.stream_producer = stream_producer
        # The same transactional id on a fresh producer: its init fences whatever the old one left open.
        self.new_stream_producer = new_stream_producer
        self._producer_broken = False
        # Republishes what the table holds but the stream lost (see stream_recovery); needed after a
        # batch whose Iceberg commit landed and whose stream transaction then failed.
        self.close_stream_gap = close_stream_gap
        self._stream_behind = False
        self.deadletter_producer = deadletter_producer
        self.decoders = decoders
        self.stream_encoder = stream_encoder
        self.check = compile_rules(rules)
        captured = product.cdc_input() is not None
        self.transform = with_platform_columns(product.transform, arrow_schema.names, captured)
        self.arrow_schema = arrow_schema
        self.stream_topic = stream_topic
        self.deadletter_topic = deadletter_topic
        self.key_columns = key_columns
        # Output records are keyed by entity (a customer's changes share a key), inputs deduplicated
        # by record (one change of that customer).
        self.stream_key_columns = stream_key_columns or key_columns
        self.batch_size = batch_size
        self.batch_interval_s = batch_interval_s
        self.recent = RecentKeys(dedupe_capacity)
        self.on_batch = on_batch
        self.upkeep = upkeep or default_upkeep()
        self.offsets: Offsets = {}
        self.partitions: dict[str, int] = {}
        # Input events not yet in the table, per topic and partition, as the broker last said.
        self.behind: dict[str, dict[int, int]] = {}
        self._watched_at = 0.0
        self.stalls = StallWatch()
        self._stopping = False

    # --- start: resume where the last snapshot says -------------------------------------------------

    def resume(self, partitions: Mapping[str, int]) -> Offsets:
        """Assign every input partition at the offset committed in the table (or the beginning)."""
        self.partitions = dict(partitions)
        self.offsets = committed_offsets(self.table)
        self._assign_at_committed()
        self._remember_recent_keys()
        self.stream_producer.init_transactions(30)
        return self.offsets

    def republish(self, rows: pa.Table) -> int:
        """Send history rows the stream lost (see stream_recovery), in one transaction."""
        self.stream_producer.begin_transaction()
        for row in rows.to_pylist():
            self._to_stream(row, row["ingested_at"].isoformat() if "ingested_at" in row else "")
        self.stream_producer.commit_transaction(60)
        return int(rows.num_rows)

    def _remember_recent_keys(self) -> None:
        """Keys of the newest batches, up to the deduplication window, so duplicates that arrive
        across a restart are still caught."""
        since = recent_batches(self.table, self.recent.capacity)
        if since is None:
            return
        after = GreaterThanOrEqual("ingested_at", since)  # type: ignore[call-arg,arg-type]
        keys = self.table.scan(row_filter=after, selected_fields=tuple(self.key_columns)).to_arrow()
        for row in keys.slice(max(0, keys.num_rows - self.recent.capacity)).to_pylist():
            self.recent.add(self._key(row))

    def _key(self, row: Mapping[str, Any]) -> str:
        return row_key(row, self.key_columns)

    def _stream_key(self, row: Mapping[str, Any]) -> str:
        return row_key(row, self.stream_key_columns)

    # --- the loop -----------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stopping = True

    def run(self) -> None:
        backoff = 1.0
        rewind = False
        while not self._stopping:
            try:
                if rewind:
                    # Still failing here (S3 or the catalog away) is retried like a batch: a product
                    # whose ingest thread died would answer on its ports and never ingest again.
                    self._rewind()
                    rewind = False
                self.step()
                backoff = 1.0
                rewind = self._watch()
            except Exception as exc:
                if kafka.fenced(exc):
                    # Another instance of this product took over its transactional id: two writers
                    # would fight over the table, so this one steps aside.
                    log.error("another instance of %s took over (fenced); this one stops ingesting", self.product.id)
                    self._stopping = True
                    return
                # Infrastructure trouble (S3, catalog, broker): undo the open transaction, go back to
                # what the table has committed, and try again; the product stays up.
                log.exception("batch failed; resuming from the last committed snapshot in %.0f s", backoff)
                if kafka.fatal(exc) and self.new_stream_producer is not None:
                    self._producer_broken = True
                rewind = True
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    def _rewind(self) -> None:
        if self._producer_broken and self.new_stream_producer is not None:
            log.warning("the stream's transactional producer failed for good: a new one takes its place")
            self.stream_producer.purge()
            self.stream_producer = self.new_stream_producer()
            self.stream_producer.init_transactions(30)
            self._producer_broken = False
        try:
            self.stream_producer.abort_transaction(30)
        except Exception as exc:
            log.debug("no transaction to abort: %s", exc)
        self.table = self.table.refresh()
        if self._stream_behind:
            self.close_stream_gap()  # if the broker is still away, this rewind fails and is tried again
            self._stream_behind = False
        self.offsets = committed_offsets(self.table)
        self._assign_at_committed()

    def _inputs(self) -> Iterator[tuple[str, int, dict[int, int]]]:
        """Every input partition, with the committed offsets of its topic."""
        for topic, count in self.partitions.items():
            done = self.offsets.setdefault(topic, {})
            for p in range(count):
                yield topic, p, done

    def _assign_at_committed(self) -> None:
        """Every input partition from the offset the table committed (or the beginning). A new
        assignment rather than a seek: it restarts each partition's fetcher, which a seek does not."""
        assignment = [TopicPartition(topic, p, done.get(p, OFFSET_BEGINNING)) for topic, p, done in self._inputs()]
        self.consumer.assign(assignment)
        self.stalls.restart(((tp.topic, tp.partition) for tp in assignment), time.monotonic())

    def _watch(self) -> bool:
        """Every WATCH_EVERY_S, ask the broker how far behind each partition is (`behind`, which the
        observation port shows), and say whether a partition has stalled (mesh_sdk.ingest.stall_watch): it is
        then assigned again at the table's offsets."""
        now = time.monotonic()
        if now - self._watched_at < WATCH_EVERY_S:
            return False
        self._watched_at = now
        stalled = []
        for topic, p, done in self._inputs():
            try:
                low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5.0, cached=False)
            except Exception as exc:  # the broker is away or slow: this partition keeps what it last showed
                log.debug("no watermarks for %s[%d]: %s", topic, p, exc)
                continue
            waiting = max(0, high - max(done.get(p, low), low))
            self.behind.setdefault(topic, {})[p] = waiting
            if self.stalls.waiting((topic, p), waiting, now):
                stalled.append(f"{topic}[{p}] ({waiting} waiting)")
        if stalled:
            log.warning(
                "no input from %s for %.0f s though the broker has it: assigning the partitions again",
                ", ".join(stalled),
                self.stalls.stall_s,
            )
        return bool(stalled)

    def poll(self) -> list[Message]:
        deadline = time.monotonic() + self.batch_interval_s
        batch: list[Message] = []
        while len(batch) < self.batch_size and not self._stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for msg in self.consumer.consume(min(1000, self.batch_size - len(batch)), timeout=min(remaining, 0.2)):
                err = msg.error()
                if err is None:
                    batch.append(msg)
                elif err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
        return batch

    def step(self) -> BatchOutcome:
        return self.process(self.poll())

    def process(self, messages: Iterable[Message]) -> BatchOutcome:
        now = datetime.now(UTC)
        context = BatchContext(ingested_at=now)
        transform, check = self.transform, self.check

        def accept_one(msg: Incoming) -> Accepted:
            return accept(msg, self.decoders[msg.topic() or ""], transform, check, context)

        batch = sort_batch(messages, accept_one, self._key, self.recent)
        advance(self.offsets, batch.offsets)
        read_at = time.monotonic()
        for topic, partitions in batch.offsets.items():
            for partition in partitions:
                self.stalls.yielded((topic, partition), read_at)
        outcome = BatchOutcome(
            consumed=batch.consumed, duplicates=batch.duplicates, skipped=batch.skipped, dead=batch.count_dead()
        )
        if batch.dead:
            self._send_dead_letters(batch.dead)
        if batch.rows:
            outcome.snapshot_id, outcome.rows = self._commit(batch.rows, now, batch.keys)
            outcome.written = len(batch.rows)
        if batch.ended:
            self._retire(batch.ended)  # after the rows read before the last word: they are committed
        if outcome.consumed:
            self._commit_group_offsets()
        self.on_batch(outcome)
        return outcome

    def _retire(self, topics: set[str]) -> None:
        """Read these inputs no more: recorded in the table (a crash before that reads the last word
        again, and retires them then), then the partitions are assigned without them."""
        retire_inputs(self.table, topics)
        for topic in topics:
            self.partitions.pop(topic, None)
        log.warning("input %s said its last word: %s reads it no more", ", ".join(sorted(topics)), self.product.id)
        self._assign_at_committed()

    def _send_dead_letters(self, dead: list[DeadLetter]) -> None:
        for d in dead:
            self.deadletter_producer.produce(
                self.deadletter_topic, key=d.key, value=d.value, headers=d.headers(self.product.id)
            )
        # Before the snapshot commits: a dead letter may be sent twice after a crash, never lost.
        remaining = self.deadletter_producer.flush(30)
        if remaining:
            raise RuntimeError(f"{remaining} dead letters were not acknowledged by Kafka")

    def _commit(self, rows: list[dict[str, Any]], now: datetime, keys: set[str]) -> tuple[int, pa.Table]:
        batch_at = now.isoformat()
        self.stream_producer.begin_transaction()
        for row in rows:
            self._to_stream(row, batch_at)
        arrow = pa.Table.from_pylist(rows, schema=self.arrow_schema)
        commit = append_with_offsets(self.table, arrow, self.offsets, batch_at)
        # In the table from here on, whatever fails next (the stream's transaction can time out): a
        # duplicate of these events arriving after a rewind must still be recognised.
        for key in keys:
            self.recent.add(key)
        try:
            self.stream_producer.commit_transaction(30)
        except Exception:
            self._stream_behind = True  # the table has this batch; whether the stream has it, the rewind finds out
            # A producer whose commit failed can stay stuck (records it never sends after a broker
            # restart): a fresh one with the same transactional id fences it and starts clean.
            self._producer_broken = self.new_stream_producer is not None
            raise
        # After the stream's transaction: a compaction takes a while, the stream should not wait.
        self.upkeep.after_commit(self.table)
        return commit.snapshot_id, arrow

    def _to_stream(self, row: dict[str, Any], batch_at: str) -> None:
        """One output record, tagged with its batch so recovery can tell what the stream holds."""
        self.stream_producer.produce(
            self.stream_topic,
            key=self._stream_key(row).encode(),
            value=self.stream_encoder(row),
            headers=[(BATCH_AT, batch_at.encode())],
        )

    def _commit_group_offsets(self) -> None:
        # Informational only (consumer lag for the observation port): the table's snapshot is the truth.
        positions = [TopicPartition(t, p, o) for t, parts in self.offsets.items() for p, o in parts.items()]
        if positions:
            try:
                self.consumer.commit(offsets=positions, asynchronous=True)
            except Exception as exc:
                log.debug("group offset commit failed: %s", exc)
