"""The audit log on the real stack: every change event (Debezium envelopes, outbox events, product
streams, garbage) becomes exactly one hash-chained record in the Iceberg table and in Object Lock
storage; restarts and crashes lose and duplicate nothing; tampering with either store is named."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest
from botocore.exceptions import ClientError
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from typer.testing import CliRunner

from mesh_adapters.lakehouse import iceberg_catalog
from mesh_adapters.s3 import s3_client
from mesh_audit.locked_store import LockedChainStore
from mesh_audit.log_table import AuditTable
from mesh_audit.record import AuditRecord, raw_digest
from mesh_audit.service import AuditService
from mesh_cli.main import app
from mesh_config import MeshSettings
from mesh_stack import Stack
from mesh_stack.audit_service import audit_status, start_audit, stop_audit
from mesh_testing.products import eventually

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Lane:
    """Names of one test's own: topics, patterns, table, object prefix, so tests never see each other."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def cdc_topic(self) -> str:
        return f"cdc.t{self.tag}.public.customers"

    @property
    def outbox_topic(self) -> str:
        return f"cdc.t{self.tag}.outbox.title"

    @property
    def stream_topic(self) -> str:
        return f"a{self.tag}.orders.stream.v1"

    @property
    def table(self) -> str:
        return f"mesh.audit_test_{self.tag}_v1"

    @property
    def prefix(self) -> str:
        return f"tests/{self.tag}/chain/"

    @property
    def dlq(self) -> str:
        return f"mesh.audit.test-{self.tag}.dlq"

    def service(self, settings: MeshSettings, **options: Any) -> AuditService:
        return AuditService(
            settings,
            table_name=self.table,
            object_prefix=self.prefix,
            cdc_pattern=rf"^cdc\.t{self.tag}\..+",
            stream_pattern=rf"^a{self.tag}\.[a-z][a-z0-9_-]*\.stream\.v[0-9]+$",
            access_pattern=rf"^access{self.tag}$",
            deadletter_topic=self.dlq,
            retention=timedelta(days=1),
            metadata_refresh_ms=1000,
            **options,
        )

    def cli(self, settings: MeshSettings, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["audit", *args, "--table", self.table], env=settings.environment())
        return result.exit_code, result.output

    def verify(self, settings: MeshSettings) -> dict[str, Any]:
        code, output = self.cli(settings, "verify", "--prefix", self.prefix, "--settle", "2", "--json")
        report: dict[str, Any] = json.loads(output)
        assert code == (0 if report["intact"] else 1), output
        return report


@pytest.fixture(scope="module")
def settings(embedded_stack: Stack) -> MeshSettings:
    return embedded_stack.settings


def _create(settings: MeshSettings, *topics: str, partitions: int = 2) -> None:
    admin = AdminClient(settings.kafka_client())
    for future in admin.create_topics([NewTopic(t, partitions, 1) for t in topics]).values():
        future.result(timeout=30)


@contextmanager
def running(service: AuditService) -> Iterator[AuditService]:
    """The service on a thread of its own; stopped (after its current batch) on exit."""
    service.start()
    thread = threading.Thread(target=_run_until_crash, args=(service,), name="audit", daemon=True)
    thread.start()
    try:
        yield service
    finally:
        service.stop()
        thread.join(60)
        assert not thread.is_alive(), "the audit service did not stop"


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so the service's retry loop cannot catch it."""


def _run_until_crash(service: AuditService) -> None:
    with suppress(Crash):
        service.run()


def table_records(settings: MeshSettings, lane: Lane) -> list[AuditRecord]:
    return AuditTable.load(iceberg_catalog(settings), lane.table).records()


def object_records(settings: MeshSettings, lane: Lane) -> list[AuditRecord]:
    store = LockedChainStore(s3_client(settings), settings.audit_bucket, lane.prefix)
    return [r for content in store.read_all() for r in content.records]


def _both_hold(settings: MeshSettings, lane: Lane, count: int) -> bool:
    return len(table_records(settings, lane)) >= count and len(object_records(settings, lane)) >= count


# --- producers of test traffic --------------------------------------------------------------------------


class Traffic:
    """Debezium-like Avro envelopes, outbox events, product stream rows and garbage, as the mesh's
    producers write them (Confluent wire format, schemas registered through the ccompat API)."""

    def __init__(self, settings: MeshSettings, lane: Lane) -> None:
        self.lane = lane
        self.registry = SchemaRegistryClient({"url": settings.schema_registry_url})
        ns = f"cdc.t{lane.tag}.public.customers"
        value = {
            "type": "record",
            "name": "Value",
            "namespace": ns,
            "fields": [{"name": "id", "type": "int"}, {"name": "email", "type": ["null", "string"], "default": None}],
        }
        source = {
            "type": "record",
            "name": "Source",
            "namespace": "io.debezium.connector.postgresql",
            "fields": [
                {"name": "version", "type": "string"},
                {"name": "connector", "type": "string"},
                {"name": "db", "type": "string"},
                {"name": "schema", "type": "string"},
                {"name": "table", "type": "string"},
                {"name": "lsn", "type": ["null", "long"], "default": None},
                {"name": "txId", "type": ["null", "long"], "default": None},
                {"name": "ts_ms", "type": "long"},
            ],
        }
        envelope = {
            "type": "record",
            "name": "Envelope",
            "namespace": ns,
            "fields": [
                {"name": "before", "type": ["null", value], "default": None},
                {"name": "after", "type": ["null", "Value"], "default": None},
                {"name": "source", "type": source},
                {"name": "op", "type": "string"},
                {"name": "ts_ms", "type": ["null", "long"], "default": None},
            ],
        }
        key = {"type": "record", "name": "Key", "namespace": ns, "fields": [{"name": "id", "type": "int"}]}
        order = {
            "type": "record",
            "name": "Order",
            "namespace": "tests.orders",
            "fields": [
                {"name": "order_id", "type": "string"},
                {"name": "amount", "type": "long"},
                {"name": "op", "type": ["null", "string"], "default": None},
            ],
        }
        self.envelope = AvroSerializer(self.registry, json.dumps(envelope))
        self.key = AvroSerializer(self.registry, json.dumps(key))
        self.text = AvroSerializer(self.registry, '"string"')
        self.order = AvroSerializer(self.registry, json.dumps(order))
        self.producer = Producer({**settings.kafka_client(), "enable.idempotence": True})
        self.streams = Producer({**settings.kafka_client(), "transactional.id": f"tests-audit-{lane.tag}"})
        self.streams.init_transactions(30)
        self.lsn = 0

    def cdc(self, op: str, customer: int, before: str | None, after: str | None) -> None:
        topic = self.lane.cdc_topic
        self.lsn += 1
        event = {
            "before": None if before is None else {"id": customer, "email": before},
            "after": None if after is None else {"id": customer, "email": after},
            "source": {
                "version": "3.1",
                "connector": "postgresql",
                "db": "legacy",
                "schema": "public",
                "table": "customers",
                "lsn": self.lsn,
                "txId": 500 + self.lsn,
                "ts_ms": 1_740_000_000_000 + self.lsn,
            },
            "op": op,
            "ts_ms": 1_740_000_000_500 + self.lsn,
        }
        self.producer.produce(
            topic,
            key=self.key({"id": customer}, SerializationContext(topic, MessageField.KEY)),
            value=self.envelope(event, SerializationContext(topic, MessageField.VALUE)),
        )

    def tombstone(self, customer: int) -> None:
        topic = self.lane.cdc_topic
        self.producer.produce(
            topic, key=self.key({"id": customer}, SerializationContext(topic, MessageField.KEY)), value=None
        )

    def outbox(self, title: str, payload: dict[str, Any], kind: str) -> None:
        topic = self.lane.outbox_topic
        self.producer.produce(
            topic,
            key=self.text(title, SerializationContext(topic, MessageField.KEY)),
            value=self.text(json.dumps(payload), SerializationContext(topic, MessageField.VALUE)),
            headers=[("type", kind.encode())],
        )

    def garbage(self, payload: bytes) -> None:
        self.producer.produce(self.lane.cdc_topic, key=b"not-a-key", value=payload)

    def orders(self, rows: list[dict[str, Any]]) -> None:
        """Rows of a product's change stream, in one Kafka transaction (as the SDK publishes them)."""
        topic = self.lane.stream_topic
        self.streams.begin_transaction()
        for row in rows:
            value = self.order({"op": None, **row}, SerializationContext(topic, MessageField.VALUE))
            self.streams.produce(topic, key=row["order_id"].encode(), value=value)
        self.streams.commit_transaction(30)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0

    def close(self) -> None:
        self.producer.close()
        self.streams.close()


@pytest.fixture
def traffic_for(settings: MeshSettings) -> Iterator[Callable[[Lane], Traffic]]:
    """Traffic producers for a lane, closed after the test."""
    made: list[Traffic] = []

    def make(lane: Lane) -> Traffic:
        made.append(Traffic(settings, lane))
        return made[-1]

    yield make
    for traffic in made:
        traffic.close()


# --- every message, exactly one record, in both stores ---------------------------------------------------


def test_every_change_becomes_exactly_one_record_in_both_stores(
    settings: MeshSettings, traffic_for: Callable[[Lane], Traffic]
) -> None:
    lane = Lane()
    _create(settings, lane.cdc_topic, lane.outbox_topic)
    traffic = traffic_for(lane)
    traffic.cdc("c", 42, None, "a@x")
    traffic.cdc("u", 42, "a@x", "b@x")
    traffic.cdc("c", 7, None, "q@x")
    traffic.cdc("d", 42, "b@x", None)
    traffic.tombstone(42)  # Debezium's follow-up to a delete: skipped, counted
    garbage = b"\x01 this is not Avro"
    traffic.garbage(garbage)
    traffic.outbox("title-3", {"title_id": 3, "name": "Dune"}, "TitleCreated")
    traffic.flush()

    with running(lane.service(settings)) as service:
        eventually(lambda: _both_hold(settings, lane, 6), attempts=150)
        # A topic created after the start is picked up by the regex subscription.
        _create(settings, lane.stream_topic)
        traffic.orders([{"order_id": "o-1", "amount": 10}, {"order_id": "o-2", "amount": 20}])
        traffic.orders([{"order_id": "o-1", "amount": 10, "op": "u"}])
        eventually(lambda: _both_hold(settings, lane, 9), attempts=150)
        tombstones = service.stats.tombstones

    records = table_records(settings, lane)
    assert records == object_records(settings, lane)
    assert [r.sequence for r in records] == list(range(1, 10))
    assert len({r.payload_ref for r in records}) == 9
    assert tombstones == 1

    by_key: dict[str | None, list[AuditRecord]] = {}
    for r in records:
        by_key.setdefault(r.entity_key, []).append(r)
    assert [r.operation for r in by_key["42"]] == ["c", "u", "d"]
    assert {r.source_table for r in by_key["42"]} == {"legacy.public.customers"}
    assert by_key["42"][1].before_digest == by_key["42"][0].after_digest  # the same image, the same digest
    assert by_key["42"][2].after_digest is None
    [outbox] = by_key["title-3"]
    assert (outbox.operation, outbox.before_digest, outbox.source) == ("TitleCreated", None, lane.outbox_topic)
    assert [r.operation for r in by_key["o-1"]] == ["c", "u"]
    assert by_key["o-2"][0].source == lane.stream_topic
    [unreadable] = [r for r in records if r.operation == "unreadable"]
    assert unreadable.before_digest is None
    assert unreadable.after_digest == raw_digest(garbage)
    assert unreadable.payload_ref.startswith(f"kafka://{lane.cdc_topic}/")

    letters = _drain(settings, lane.dlq, 1)
    assert [m.value() for m in letters] == [garbage]
    headers = dict(letters[0].headers() or [])
    assert b"wire format" in headers["mesh.dlq.reason"]
    assert headers["mesh.source.topic"] == lane.cdc_topic.encode()

    report = lane.verify(settings)
    assert report["intact"] is True
    assert (report["records"], report["object_records"]) == (9, 9)
    assert (report["first_sequence"], report["last_sequence"]) == (1, 9)
    assert report["sources"] == {lane.cdc_topic: 5, lane.outbox_topic: 1, lane.stream_topic: 3}

    code, shown = lane.cli(settings, "history", "42", "--json")
    assert code == 0
    assert [(r["sequence"], r["operation"]) for r in json.loads(shown)] == [
        (r.sequence, r.operation) for r in by_key["42"]
    ]
    code, only_orders = lane.cli(settings, "history", "o-1", "--source", "orders", "--json")
    assert (code, len(json.loads(only_orders))) == (0, 2)
    code, table_view = lane.cli(settings, "history", "42", "--source", "public.customers")
    assert code == 0
    assert "changes of 42" in table_view
    assert table_view.count("legacy.public.customers") == 3

    s3 = s3_client(settings)
    key = LockedChainStore(s3, settings.audit_bucket, lane.prefix).objects()[0].key
    retention = s3.get_object_retention(Bucket=settings.audit_bucket, Key=key)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"


def _drain(settings: MeshSettings, topic: str, expected: int) -> list[Any]:
    consumer = Consumer(
        {
            **settings.kafka_client(),
            "group.id": f"tests-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    got: list[Any] = []
    try:
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg)
            if len(got) >= expected:
                break
    finally:
        consumer.close()
    return got


# --- restarts and crashes ----------------------------------------------------------------------------


def test_stop_crash_and_restart_mid_stream_lose_and_duplicate_nothing(
    settings: MeshSettings, traffic_for: Callable[[Lane], Traffic], monkeypatch: pytest.MonkeyPatch
) -> None:
    lane = Lane()
    _create(settings, lane.stream_topic, partitions=3)
    traffic = traffic_for(lane)
    total, chunk = 400, 10
    # Each step releases a quarter of the traffic, so every step has batches of its own to work on.
    quarters = [threading.Event() for _ in range(3)]
    done = threading.Event()

    def produce() -> None:
        for i in range(0, total, chunk):
            if i and i % (total // 4) == 0:
                quarters[i // (total // 4) - 1].wait(120)
            traffic.orders([{"order_id": f"o-{n}", "amount": n} for n in range(i, i + chunk)])
            if done.wait(0.03):
                return

    producer = threading.Thread(target=produce, name="traffic", daemon=True)
    producer.start()
    try:
        # 1. A clean stop mid-stream, then a restart.
        with running(lane.service(settings, batch_size=40)):
            eventually(lambda: len(table_records(settings, lane)) >= 40, attempts=150)

        # 2. A crash after a table commit, before its locked object: the restart writes the object.
        crashing = lane.service(settings, batch_size=40)
        puts = {"n": 0}
        real_put = crashing.objects.put

        def put_then_crash(records: list[AuditRecord]) -> str:
            puts["n"] += 1
            if puts["n"] == 2:
                raise Crash
            return real_put(records)

        monkeypatch.setattr(crashing.objects, "put", put_then_crash)
        quarters[0].set()
        with running(crashing):
            eventually(lambda: puts["n"] >= 2, attempts=150)
        assert len(table_records(settings, lane)) > len(object_records(settings, lane))

        # 3. A crash before the table commit: the batch is read again from Kafka.
        failing = lane.service(settings, batch_size=40)

        def append_crash(*_: Any) -> Any:
            raise Crash

        monkeypatch.setattr(failing.log, "append", append_crash)
        quarters[1].set()
        with running(failing):
            eventually(lambda: failing.consumer is None, attempts=150)  # its thread died in the append

        # 4. Passing failures (S3 after a commit, then the table itself): the service retries in-process.
        flaky = lane.service(settings, batch_size=40)
        calls = {"put": 0, "append": 0}
        put, append = flaky.objects.put, flaky.log.append

        def flaky_put(records: list[AuditRecord]) -> str:
            calls["put"] += 1
            if calls["put"] == 1:
                raise RuntimeError("S3 is briefly unreachable")
            return put(records)

        def flaky_append(*args: Any) -> Any:
            calls["append"] += 1
            if calls["append"] == 2:
                raise RuntimeError("the catalog is briefly unreachable")
            return append(*args)

        monkeypatch.setattr(flaky.objects, "put", flaky_put)
        monkeypatch.setattr(flaky.log, "append", flaky_append)
        quarters[2].set()
        with running(flaky):
            producer.join(60)
            eventually(lambda: _both_hold(settings, lane, total), attempts=300)
        assert flaky.stats.failures == 2
    finally:
        for quarter in quarters:
            quarter.set()
        done.set()
        producer.join(60)

    records = table_records(settings, lane)
    assert len(records) == total
    assert [r.sequence for r in records] == list(range(1, total + 1))
    assert sorted(r.entity_key or "" for r in records) == sorted(f"o-{n}" for n in range(total))
    assert len({r.payload_ref for r in records}) == total
    assert records == object_records(settings, lane)
    assert lane.verify(settings)["intact"] is True


# --- tampering ---------------------------------------------------------------------------------------


def _rows(table: Any, *sequences: int) -> pa.Table:
    listed = ", ".join(str(n) for n in sequences)
    return table.scan(row_filter=f"sequence IN ({listed})").to_arrow().sort_by("sequence")


def test_tampering_with_either_store_is_named_by_verify(
    settings: MeshSettings, traffic_for: Callable[[Lane], Traffic]
) -> None:
    lane = Lane()
    _create(settings, lane.stream_topic)
    traffic = traffic_for(lane)
    traffic.orders([{"order_id": f"o-{n}", "amount": n} for n in range(10)])
    with running(lane.service(settings)):
        eventually(lambda: _both_hold(settings, lane, 10), attempts=150)
    assert lane.verify(settings)["intact"] is True
    s3 = s3_client(settings)
    bucket = settings.audit_bucket
    store = LockedChainStore(s3, bucket, lane.prefix)
    table = AuditTable.load(iceberg_catalog(settings), lane.table).table

    # Each tamper hits an earlier sequence than the one before, so each becomes the first break.

    # A locked object cannot be deleted or overwritten in place...
    holding = next(o for o in store.objects() if o.first <= 10 <= o.last)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=holding.key)["Versions"]
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key=holding.key, VersionId=versions[0]["VersionId"])
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # ... but a new version can be put on top of it: verify reads the current version and names it.
    lines = s3.get_object(Bucket=bucket, Key=holding.key)["Body"].read().decode().splitlines()
    forged = [json.loads(line) for line in lines]
    forged[-1]["operation"] = "d"
    s3.put_object(Bucket=bucket, Key=holding.key, Body="".join(json.dumps(r) + "\n" for r in forged).encode())
    broken = lane.verify(settings)["broken"]
    assert (broken["sequence"], broken["store"], broken["reason"]) == (10, "objects", "hash mismatch")
    assert broken["location"] == holding.key

    # A record deleted from the table.
    table.delete("sequence = 8")
    broken = lane.verify(settings)["broken"]
    assert (broken["sequence"], broken["store"], broken["reason"]) == (8, "iceberg", "sequence gap")

    # Two records' sequences swapped.
    pair = _rows(table, 5, 6)
    swapped = pair.set_column(pair.schema.get_field_index("sequence"), "sequence", pa.array([6, 5], pa.int64()))
    table.overwrite(swapped.cast(pair.schema), overwrite_filter="sequence IN (5, 6)")
    broken = lane.verify(settings)["broken"]
    assert (broken["sequence"], broken["store"], broken["reason"]) == (5, "iceberg", "hash mismatch")

    # A record rewritten with a changed field.
    row = _rows(table, 3)
    column = row.schema.get_field_index("entity_key")
    field = row.schema.field(column)
    rewritten = row.set_column(column, field, pa.array([f"{row['entity_key'][0].as_py()}x"], field.type))
    table.overwrite(rewritten, overwrite_filter="sequence = 3")
    code, shown = lane.cli(settings, "verify", "--prefix", lane.prefix, "--settle", "0")
    assert code == 1
    assert "first broken link: sequence 3 in iceberg: hash mismatch" in " ".join(shown.split())

    # Verify names the first break, and the records after the tampered ones are still all there.
    assert len(table_records(settings, lane)) == 9


def test_a_hidden_locked_object_is_reported_not_rewritten(
    settings: MeshSettings, traffic_for: Callable[[Lane], Traffic]
) -> None:
    lane = Lane()
    _create(settings, lane.stream_topic)
    traffic_for(lane).orders([{"order_id": f"o-{n}", "amount": n} for n in range(4)])
    with running(lane.service(settings)):
        eventually(lambda: _both_hold(settings, lane, 4), attempts=150)
    s3 = s3_client(settings)
    store = LockedChainStore(s3, settings.audit_bucket, lane.prefix)
    newest = store.objects()[-1]

    # Without a VersionId, a delete only hides the locked version behind a delete marker.
    s3.delete_object(Bucket=settings.audit_bucket, Key=newest.key)
    with running(lane.service(settings)):  # a restart writes objects only for sequences never written
        pass

    assert newest not in store.objects()
    broken = lane.verify(settings)["broken"]
    assert (broken["sequence"], broken["store"], broken["reason"]) == (newest.first, "objects", "missing record")


# --- as a managed background process -------------------------------------------------------------------


def test_the_service_runs_as_a_managed_process(
    settings: MeshSettings, traffic_for: Callable[[Lane], Traffic], monkeypatch: pytest.MonkeyPatch
) -> None:
    lane = Lane()
    _create(settings, lane.stream_topic)
    for name, value in {
        "TABLE": lane.table,
        "OBJECT_PREFIX": lane.prefix,
        "CDC_PATTERN": rf"^cdc\.t{lane.tag}\..+",
        "STREAM_PATTERN": rf"^a{lane.tag}\.[a-z][a-z0-9_-]*\.stream\.v[0-9]+$",
        "ACCESS_PATTERN": rf"^access{lane.tag}$",
        "DEADLETTER_TOPIC": lane.dlq,
        "RETENTION_DAYS": "1",
        "METADATA_REFRESH_MS": "1000",
    }.items():
        monkeypatch.setenv(f"MESH_AUDIT_{name}", value)
    process = start_audit(settings)
    try:
        assert start_audit(settings).pid == process.pid  # idempotent
        traffic_for(lane).orders([{"order_id": f"o-{n}", "amount": n} for n in range(5)])
        eventually(lambda: _both_hold(settings, lane, 5), attempts=150)
    finally:
        assert stop_audit(settings) is True
    assert not process.is_running()
    assert audit_status(settings) is not None
    assert audit_status(settings)["state"] == "stopped"  # type: ignore[index]
    assert "audit log running" in process.log_tail(200)
    assert lane.verify(settings)["records"] == 5
