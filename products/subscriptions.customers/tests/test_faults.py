"""Faults during a live workload: the connector restarts, Kafka restarts, the product is killed with
kill -9. Afterwards the current state equals the database and the history holds every change once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from mesh_adapters import kafka
from mesh_adapters.avro import AvroWireReader
from mesh_adapters.connect import ConnectClient
from mesh_adapters.lakehouse import iceberg_catalog
from mesh_config import MeshSettings
from mesh_sdk.serve.masked_stream import masked_topic
from mesh_sources.capture import LEGACY
from mesh_sources.legacy import LegacyWorkload
from mesh_stack import Stack
from mesh_testing.products import eventually, free_port

from .conftest import COLUMNS, FOLDER, database_customers

pytestmark = pytest.mark.integration
STREAM = "subscriptions.customers.stream.v1"
MESH = str(Path(sys.executable).parent / "mesh")
STEPS = 900


def _start_product(settings: MeshSettings, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [MESH, "run", str(FOLDER), "--http-port", str(free_port()), "--sql-port", str(free_port()),
             "--batch-size", "200", "--batch-interval", "0.2"],
            env=settings.environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def _stop(product: subprocess.Popen[bytes]) -> None:
    if product.poll() is None:
        product.send_signal(signal.SIGTERM)
        try:
            product.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(product.pid, signal.SIGKILL)
            product.wait(timeout=30)


Rows = list[dict[str, object]]


def _tables(settings: MeshSettings, twin: str = "") -> tuple[Rows, Rows]:
    """The current state and the changes, or (twin `_masked`) their twins with PII masked."""
    catalog = iceberg_catalog(settings)
    state = catalog.load_table(f"subscriptions.customers_customers{twin}_v1").scan().to_arrow().to_pylist()
    changes = catalog.load_table(f"subscriptions.customers_changes{twin}_v1").scan().to_arrow().to_pylist()
    return _sorted(state), _sorted(changes)


def _sorted(rows: Rows) -> Rows:
    return sorted(rows, key=lambda r: (str(r.get("position")), str(r["customer_id"])))


def _masked(tables: tuple[Rows, Rows]) -> tuple[Rows, Rows]:
    pii = {"email": "***", "full_name": "***", "phone": "***", "birth_year": None}
    return (
        [r | {k: v for k, v in pii.items() if r[k] is not None} for r in tables[0]],
        [r | {k: v for k, v in pii.items() if r[k] is not None} for r in tables[1]],
    )


def _records_of(settings: MeshSettings, topic: str) -> Counter[tuple[bytes | None, object]]:
    """Every committed record of a topic (read until it stays quiet), by key and change position."""
    decode = AvroWireReader(SchemaRegistryClient({"url": settings.schema_registry_url}))
    reader = kafka.consumer(settings, group=f"tests-{uuid.uuid4()}")
    try:
        partitions = reader.list_topics(topic, timeout=30).topics[topic].partitions
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        found: Counter[tuple[bytes | None, object]] = Counter()
        quiet = 0
        for _ in range(2000):  # bounded: a topic of this session's changes
            batch = reader.consume(500, 1.0)
            quiet = 0 if batch else quiet + 1
            if quiet >= 3:
                break
            for message in batch:
                if message.error() is None and message.value() is not None:
                    found[(message.key(), decode(message.value())["position"])] += 1
        return found
    finally:
        reader.close()


def _state_equals_database(settings: MeshSettings) -> bool:
    state, _ = _tables(settings)
    norm = {
        r["customer_id"]: {
            c: (v.astimezone(UTC) if isinstance(v, datetime) else v) for c, v in r.items() if c in COLUMNS
        }
        for r in state
    }
    db = {
        k: {c: (v.astimezone(UTC) if isinstance(v, datetime) else v) for c, v in row.items()}
        for k, row in database_customers(settings).items()
    }
    return len(state) == len(norm) and norm == db


def test_connector_restart_kafka_restart_and_kill_9_lose_and_duplicate_no_change(
    embedded_stack: Stack, legacy_capture: MeshSettings, tmp_path: Path
) -> None:
    settings = legacy_capture
    dsn = settings.postgres_dsn(settings.legacy_db)
    start = datetime.now(UTC)
    progress = {"steps": 0}
    failure: list[BaseException] = []

    def work() -> None:
        try:
            with LegacyWorkload.connect(dsn, seed=29) as workload:
                for _ in range(STEPS):
                    workload.step()
                    progress["steps"] += 1
                    time.sleep(0.01)  # a steady stream, so every fault lands mid-workload
                progress["counts"] = workload.counts  # type: ignore[assignment]
        except BaseException as exc:  # surfaced by the test thread below
            failure.append(exc)

    product = _start_product(settings, tmp_path / "product-1.log")
    worker = threading.Thread(target=work)
    try:
        worker.start()
        eventually(lambda: progress["steps"] >= STEPS // 5, attempts=600)
        with ConnectClient(settings.kafka_connect_url) as connect:
            connect.restart(LEGACY.connector)
            connect.wait_running(LEGACY.connector)

        eventually(lambda: progress["steps"] >= 2 * STEPS // 5, attempts=600)
        os.killpg(product.pid, signal.SIGKILL)  # no goodbye
        product.wait(timeout=30)
        product = _start_product(settings, tmp_path / "product-2.log")

        eventually(lambda: progress["steps"] >= 3 * STEPS // 5, attempts=600)
        embedded_stack["kafka"].stop()
        embedded_stack.up()  # Kafka comes back on the same storage; everything else was left running

        worker.join(timeout=600)
        assert not failure, failure
        assert not worker.is_alive()
        eventually(lambda: _state_equals_database(settings), attempts=600, pause_s=0.5)

        # The masked twin of the stream holds each of its records once, through the same faults.
        def twins() -> bool:
            stream = _records_of(settings, STREAM)
            return bool(stream) and stream == _records_of(settings, masked_topic(STREAM))

        eventually(twins, attempts=60)
        eventually(lambda: _tables(settings, "_masked") == _masked(_tables(settings)), attempts=60, pause_s=1)
    finally:
        _stop(product)
        worker.join(timeout=60)

    counts = progress["counts"]
    expected = {
        "c": counts.rows[("customers", "insert")],  # type: ignore[attr-defined]
        "u": counts.rows[("customers", "update")],  # type: ignore[attr-defined]
        "d": counts.rows[("customers", "delete")],  # type: ignore[attr-defined]
    }
    _, changes = _tables(settings)
    window = [c for c in changes if c["changed_at"] >= start and c["op"] != "r"]  # type: ignore[operator]
    assert {op: sum(1 for c in window if c["op"] == op) for op in "cud"} == expected, "no change missed"
    keys = [(c["position"], c["customer_id"]) for c in changes]
    assert len(keys) == len(set(keys)), "no change duplicated"
