"""The stack's life cycle through the `mesh` command, on a private stack of its own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pyarrow as pa
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from mesh_adapters.lakehouse import iceberg_catalog
from mesh_adapters.s3 import s3_client
from mesh_config import MeshSettings
from mesh_stack import Stack
from mesh_stack.isolated import isolated_settings

pytestmark = pytest.mark.lifecycle

_SURVIVOR_SCHEMA = {"type": "record", "name": "Survivor", "fields": [{"name": "marker", "type": "string"}]}
_SURVIVOR_SCHEMA_ARROW = pa.schema([pa.field("marker", pa.string(), nullable=False)])

MESH = str(Path(sys.executable).parent / "mesh")


def mesh(settings: MeshSettings, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MESH, *args],
        env=settings.environment() | extra_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _status(settings: MeshSettings) -> dict[str, dict[str, object]]:
    result = mesh(settings, "status", "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


@pytest.fixture
def private_stack() -> Iterator[MeshSettings]:
    """A stack of its own (ports 21500+), from empty state; whatever a test leaves running is stopped."""
    settings = isolated_settings("test-lifecycle", 21500)
    stack = Stack(settings)
    stack.reset()
    yield settings
    stack.reset()


def _pids(settings: MeshSettings) -> list[int]:
    return [int(row["pid"]) for row in _status(settings).values() if row["pid"]]  # type: ignore[call-overload]


def test_data_survives_down_and_up_and_up_twice_is_harmless(private_stack: MeshSettings) -> None:
    s = private_stack
    first = mesh(s, "up")
    assert first.returncode == 0, first.stdout + first.stderr
    pids = _pids(s)

    again = mesh(s, "up")
    assert again.returncode == 0, again.stderr
    assert _pids(s) == pids, "a second `mesh up` must not restart anything"

    marker = uuid.uuid4().hex
    topic = f"test.lifecycle.{marker[:8]}.v1"
    with psycopg.connect(s.postgres_dsn(s.legacy_db), autocommit=True) as conn:
        conn.execute("CREATE TABLE survivor (marker text)")
        conn.execute("INSERT INTO survivor VALUES (%s)", [marker])
    s3_client(s).put_object(Bucket=s.warehouse_bucket, Key=f"survivor/{marker}", Body=marker.encode())
    admin = AdminClient(s.kafka_client())
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    producer = Producer({**s.kafka_client(), "acks": "all"})
    producer.produce(topic, value=marker)
    assert producer.flush(30) == 0

    registry = SchemaRegistryClient({"url": s.schema_registry_url})
    schema_id = registry.register_schema(f"{topic}-value", Schema(json.dumps(_SURVIVOR_SCHEMA), "AVRO"))
    table = iceberg_catalog(s).create_table(f"playback.survivor_{marker[:8]}", schema=_SURVIVOR_SCHEMA_ARROW)
    table.append(pa.Table.from_pylist([{"marker": marker}], schema=_SURVIVOR_SCHEMA_ARROW))

    down = mesh(s, "down")
    assert down.returncode == 0, down.stderr
    assert all(not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE for pid in pids)
    assert {row["health"] for name, row in _status(s).items() if name != "catalog"} == {"stopped"}

    assert mesh(s, "up").returncode == 0
    with psycopg.connect(s.postgres_dsn(s.legacy_db)) as conn:
        assert conn.execute("SELECT marker FROM survivor").fetchall() == [(marker,)]
    assert (
        s3_client(s).get_object(Bucket=s.warehouse_bucket, Key=f"survivor/{marker}")["Body"].read() == marker.encode()
    )
    consumer = Consumer({**s.kafka_client(), "group.id": marker, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values = []
    for _ in range(60):
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            values.append(msg.value())
            break
    consumer.close()
    assert values == [marker.encode()]
    registry = SchemaRegistryClient({"url": s.schema_registry_url})
    assert registry.get_latest_version(f"{topic}-value").schema_id == schema_id
    survivor = iceberg_catalog(s).load_table(f"playback.survivor_{marker[:8]}")
    assert survivor.scan().to_arrow().column("marker").to_pylist() == [marker]
    assert all(row["health"] in ("healthy", "ready") for row in _status(s).values())


def test_a_taken_port_is_named_with_the_process_holding_it(private_stack: MeshSettings) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", private_stack.kafka_port))
        squatter.listen()

        result = mesh(private_stack, "up")

    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert f"port {private_stack.kafka_port}" in message
    assert f"pid {os.getpid()}" in message
    assert _pids(private_stack) == [], "the components that did start must be stopped again"


def test_missing_java_says_how_to_get_it(private_stack: MeshSettings) -> None:
    # A PATH with the project's tools but no `java`, and no JAVA_HOME.
    result = mesh(private_stack, "up", PATH=str(Path(sys.executable).parent), JAVA_HOME="")

    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "Java 17+ is missing" in message
    assert "apt-get install openjdk-17-jre-headless" in message
    assert _pids(private_stack) == []


def test_a_component_that_fails_leaves_the_others_stopped_and_points_at_its_log(
    private_stack: MeshSettings,
) -> None:
    # Corrupt Kafka's storage so that the broker refuses to start.
    data = private_stack.home / "kafka" / "data"
    data.mkdir(parents=True)
    (data / "meta.properties").write_text("version=1\nnode.id=not-a-number\n")

    result = mesh(private_stack, "up")

    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "kafka failed to start" in message
    assert str(private_stack.home / "logs" / "kafka.log") in message
    assert _pids(private_stack) == []
