"""subscriptions.customers against the real legacy database: the current state follows every insert,
update and deletion; the history holds every change once; bad input goes to the dead-letter topic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from mesh_config import MeshSettings
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sdk.storage.current_state import APPLIED, fold
from mesh_sources.legacy import LegacyWorkload
from mesh_testing.products import eventually, running_product, state_matches
from mesh_testing.topics import dead_letters, read_topic

from .conftest import COLUMNS, FOLDER, SEEDED_CUSTOMERS, database_customers

pytestmark = pytest.mark.integration
CDC_TOPIC = "cdc.legacy.public.customers"


def _changes_since(rt: SourceAlignedRuntime, since: datetime) -> list[dict[str, Any]]:
    rows = rt.ingestor.table.refresh().scan().to_arrow().to_pylist()
    return [r for r in rows if r["ingested_at"] > since]


def test_initial_snapshot_reaches_the_current_state(
    customers_product: SourceAlignedRuntime, http: httpx.Client
) -> None:
    eventually(lambda: state_matches(customers_product, database_customers(customers_product.settings), COLUMNS))
    reads = [r for r in customers_product.ingestor.table.refresh().scan().to_arrow().to_pylist() if r["op"] == "r"]
    assert len(reads) == SEEDED_CUSTOMERS


def test_after_a_workload_the_state_equals_the_database_and_the_history_holds_every_change(
    customers_product: SourceAlignedRuntime, http: httpx.Client
) -> None:
    settings = customers_product.settings
    eventually(lambda: state_matches(customers_product, database_customers(settings), COLUMNS))
    start = datetime.now(UTC)
    with LegacyWorkload.connect(settings.postgres_dsn(settings.legacy_db), seed=11) as workload:
        for _ in range(400):
            workload.step()
        counts = workload.counts
    assert counts.rows[("customers", "delete")] > 0 and counts.rows[("customers", "update")] > 0

    eventually(lambda: state_matches(customers_product, database_customers(settings), COLUMNS), attempts=300)
    expected = {
        "c": counts.rows[("customers", "insert")],
        "u": counts.rows[("customers", "update")],
        "d": counts.rows[("customers", "delete")],
    }
    changes = eventually(
        lambda: (c := _changes_since(customers_product, start)) and len(c) >= sum(expected.values()) and c
    )
    seen = {op: sum(1 for c in changes if c["op"] == op) for op in "cud"}
    assert seen == expected, "every change exactly once"
    all_changes = customers_product.ingestor.table.scan(selected_fields=("position", "customer_id")).to_arrow()
    keys = list(zip(all_changes["position"].to_pylist(), all_changes["customer_id"].to_pylist(), strict=True))
    assert len(keys) == len(set(keys)), "no change twice in the history"

    # The REST port (its in-memory copy follows each applied batch) serves the same current rows.
    def served() -> dict[int, str]:
        rows: dict[int, str] = {}
        cursor = None
        for _ in range(50):
            page = http.get("/customers", params={"limit": 1000, **({"cursor": cursor} if cursor else {})}).json()
            rows.update({r["customer_id"]: r["email"] for r in page["items"]})
            cursor = page["next_cursor"]
            if not cursor:
                break
        return rows

    database = {k: v["email"] for k, v in database_customers(settings).items()}
    eventually(lambda: served() == database)
    state = customers_product.state
    assert state is not None

    def hot_copy_current() -> bool:
        # Read together: a batch may commit between reading the state's snapshot and the copy's.
        current = state.table.current_snapshot()
        return current is not None and customers_product.hot.holds(current.snapshot_id)

    eventually(hot_copy_current)  # the in-memory copy follows the state (a batch can still be landing)

    # A customer's changes come in source order.
    some = next(iter(database_customers(settings)))
    assert http.get(f"/customers/{some}").json()["email"] == database_customers(settings)[some]["email"]
    history = http.get("/changes", params={"customer_id": some, "sort": "position"}).json()["items"]
    assert history and history[-1]["op"] in ("c", "u", "r")


def test_cdc_events_are_avro_in_the_registry_readable_with_confluent_kafka(legacy_capture: MeshSettings) -> None:
    registry = SchemaRegistryClient({"url": legacy_capture.schema_registry_url})
    deserialize = AvroDeserializer(registry)
    consumer = Consumer(
        {
            **legacy_capture.kafka_client(),
            "group.id": str(uuid.uuid4()),
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.assign([TopicPartition(CDC_TOPIC, 0, 0)])
        msg = eventually(lambda: consumer.poll(1.0))
        key = deserialize(msg.key(), SerializationContext(CDC_TOPIC, MessageField.KEY))
        value = deserialize(msg.value(), SerializationContext(CDC_TOPIC, MessageField.VALUE))
    finally:
        consumer.close()
    assert set(key) == {"customer_id"}
    assert value["op"] in ("r", "c") and value["source"]["table"] == "customers" and value["after"]["email"]
    assert f"{CDC_TOPIC}-value" in registry.get_subjects()


def test_an_event_for_another_table_and_a_truncated_event_go_to_the_dead_letter_topic(
    customers_product: SourceAlignedRuntime,
) -> None:
    settings = customers_product.settings
    plans = Consumer({**settings.kafka_client(), "group.id": str(uuid.uuid4())})
    plans.assign([TopicPartition("cdc.legacy.public.plans", 0, 0)])
    plan_event = eventually(lambda: plans.poll(1.0))
    plans.close()
    customer = Consumer({**settings.kafka_client(), "group.id": str(uuid.uuid4())})
    customer.assign([TopicPartition(CDC_TOPIC, 0, 0)])
    customer_event = eventually(lambda: customer.poll(1.0))
    customer.close()

    producer = Producer(settings.kafka_client())
    producer.produce(CDC_TOPIC, key=plan_event.key(), value=plan_event.value())  # a plans change, misrouted
    producer.produce(CDC_TOPIC, key=customer_event.key(), value=customer_event.value()[:-7])  # cut short
    assert producer.flush(30) == 0

    letters = dead_letters(settings, customers_product.deadletter_topic, enough=2)
    reasons = {d["mesh.dlq.defect"]: d["mesh.dlq.reason"] for d in letters}
    assert "public.plans" in reasons["unexpected-event"]
    assert reasons["schema-invalid"]
    assert all(d["mesh.source.topic"] == CDC_TOPIC for d in letters)


def test_every_change_is_published_on_the_stream_keyed_by_customer(customers_product: SourceAlignedRuntime) -> None:
    """Everyone in the mesh is notified: downstream products consume the change stream, never the tables."""
    settings = customers_product.settings
    history = customers_product.ingestor.table.refresh().scan(selected_fields=("position", "customer_id", "op"))
    expected = sorted((r["position"], r["customer_id"], r["op"]) for r in history.to_arrow().to_pylist())
    received = read_topic(settings, customers_product.stream_topic, decode=True, enough=len(expected))
    seen: list[tuple[int, int, str]] = []
    for r in received:
        assert r.record is not None and r.key == str(r.record["customer_id"]).encode()
        seen.append((r.record["position"], r.record["customer_id"], r.record["op"]))
    assert sorted(seen) == expected


def test_a_downstream_product_hears_every_change_through_the_stream_port(
    customers_product: SourceAlignedRuntime,
) -> None:
    history = customers_product.ingestor.table.refresh().scan(selected_fields=("position", "customer_id", "op"))
    expected = sorted((r["position"], r["customer_id"], r["op"]) for r in history.to_arrow().to_pylist())
    with running_product(FOLDER / "tests" / "downstream", customers_product.settings, batch_interval_s=0.3) as follower:

        def heard() -> list[tuple[int, int, str]]:
            rows = follower.ingestor.table.refresh().scan().to_arrow().to_pylist()
            return sorted((r["position"], r["customer_id"], r["op"]) for r in rows)

        eventually(lambda: len(heard()) >= len(expected), attempts=300)
        assert heard() == expected


def test_every_listed_state_snapshot_is_the_history_folded_up_to_the_snapshot_it_applied(
    customers_product: SourceAlignedRuntime, http: httpx.Client
) -> None:
    """Time travel never lands between the delete and the append of a state update."""
    state, history = customers_product.state, customers_product.ingestor.table.refresh()
    assert state is not None
    listed = http.get("/snapshots").json()
    assert listed
    for snapshot in listed[-6:]:
        table = state.table.refresh()
        summary = table.snapshot_by_id(snapshot["snapshot_id"]).summary
        applied = int(summary[APPLIED])
        rows = table.scan(snapshot_id=snapshot["snapshot_id"], selected_fields=("customer_id",)).to_arrow()
        changes = history.scan(snapshot_id=applied, selected_fields=("customer_id", "op", "position")).to_arrow()
        alive = {k[0] for k, c in fold(changes.to_pylist(), ["customer_id"]).items() if c["op"] != "d"}
        assert sorted(rows["customer_id"].to_pylist()) == sorted(alive), snapshot
