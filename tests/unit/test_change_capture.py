"""Change events in one shape, folded into a current state; connector configs as Debezium needs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mesh_config import load_settings
from mesh_sdk.ingest.changes import UnexpectedChange, captured_table, from_debezium, from_outbox, parse_timestamp
from mesh_sdk.spec.errors import SpecError
from mesh_sdk.spec.product import load_product
from mesh_sdk.storage.current_state import fold
from mesh_sources.capture import CONTENT, LEGACY, connector_config

REPO = Path(__file__).resolve().parents[2]


def envelope(
    op: str, table: str = "customers", before: dict[str, Any] | None = None, after: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "op": op,
        "before": before,
        "after": after,
        "source": {"table": table, "schema": "public", "lsn": 42, "ts_ms": 1_700_000_000_000},
        "ts_ms": 1_700_000_000_100,
    }


def test_a_debezium_update_keeps_both_images_and_the_commit_time() -> None:
    change = from_debezium(envelope("u", before={"id": 1, "v": "a"}, after={"id": 1, "v": "b"}), "customers")
    assert change["op"] == "u" and change["after"]["v"] == "b" and change["before"]["v"] == "a"
    assert change["position"] == 42
    assert change["committed_at"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (envelope("c", table="plans", after={"id": 1}), "public.plans"),
        (envelope("x", after={"id": 1}), "unknown operation"),
        (envelope("d", before=None), "REPLICA IDENTITY"),
        ({"after": {}}, "not a Debezium change event"),
    ],
)
def test_events_a_port_does_not_capture_are_refused_with_the_reason(event: dict[str, Any], reason: str) -> None:
    with pytest.raises(UnexpectedChange, match=reason):
        from_debezium(event, "customers")


def test_an_outbox_event_carries_the_aggregates_state_id_and_type() -> None:
    headers = [("id", b"e-1"), ("type", b"TitleCreated")]
    change = from_outbox(json.dumps({"title_id": 3}), headers, "title", 17, 1_700_000_000_000)
    assert change["after"] == {"title_id": 3} and change["event_id"] == "e-1" and change["event_type"] == "TitleCreated"
    assert change["position"] == 17
    with pytest.raises(UnexpectedChange, match="not JSON"):
        from_outbox("{", headers, "title", 18, None)
    with pytest.raises(UnexpectedChange, match="headers"):
        from_outbox("{}", [], "title", 19, None)


def test_topics_name_the_captured_table_and_timestamps_parse() -> None:
    assert captured_table("cdc.legacy.public.customers") == "customers"
    assert captured_table("cdc.content.outbox.title") == "title"
    assert parse_timestamp("2026-01-02T03:04:05.123456Z") == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def test_the_newest_change_of_each_key_wins_whatever_the_arrival_order() -> None:
    changes = [
        {"id": 1, "op": "c", "position": 10},
        {"id": 2, "op": "c", "position": 11},
        {"id": 1, "op": "u", "position": 30},
        {"id": 1, "op": "u", "position": 20},  # older, arrived late
        {"id": 2, "op": "d", "position": 40},
    ]
    newest = fold(changes, ["id"])
    assert newest[(1,)]["position"] == 30 and newest[(2,)]["op"] == "d"


def test_connectors_use_pgoutput_an_explicit_publication_and_the_registrys_avro() -> None:
    settings = load_settings()
    legacy = connector_config(LEGACY, settings)
    assert legacy["plugin.name"] == "pgoutput" and legacy["publication.autocreate.mode"] == "disabled"
    assert legacy["topic.prefix"] == "cdc.legacy" and LEGACY.topics()[1] == "cdc.legacy.public.customers"
    assert legacy["value.converter"].endswith("AvroConverter") and legacy["key.converter"].endswith("AvroConverter")
    assert legacy["snapshot.mode"] == "initial"
    content = connector_config(CONTENT, settings)
    assert content["transforms.outbox.type"] == "io.debezium.transforms.outbox.EventRouter"
    assert CONTENT.topics() == ["cdc.content.outbox.title"]


def test_a_cdc_product_needs_a_change_history_that_can_rebuild_its_state(tmp_path: Path) -> None:
    product = load_product(REPO / "products" / "subscriptions.customers")
    assert (product.history_port, product.served_port) == ("changes", "customers")
    broken = tmp_path / "subscriptions.customers"
    broken.mkdir()
    (broken / "dataproduct.yaml").write_text((REPO / "products/subscriptions.customers/dataproduct.yaml").read_text())
    contract = (REPO / "products/subscriptions.customers/contract.yaml").read_text()
    (broken / "contract.yaml").write_text(contract.replace("      - name: op\n", "      - name: operation\n"))
    with pytest.raises(SpecError, match="no 'op' column"):
        load_product(broken)


def test_a_state_following_versions_keeps_a_later_owners_change_against_an_older_one_read_late(
    tmp_path: Path,
) -> None:
    """Two inputs of one entity read side by side: a change read after a newer one must not win."""
    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType

    from mesh_sdk.storage.current_state import CurrentState

    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")
    catalog.create_namespace("s")
    fields = (NestedField(1, "id", LongType(), required=True), NestedField(2, "status", StringType(), required=False))
    history = catalog.create_table(
        "s.changes_v1",
        schema=Schema(*fields, NestedField(3, "op", StringType()), NestedField(4, "position", LongType())),
    )
    state_table = catalog.create_table("s.state_v1", schema=Schema(*fields))
    arrow = state_table.schema().as_arrow()

    def change(op: str, status: str, position: int) -> dict[str, Any]:
        return {"id": 1, "status": status, "op": op, "position": position}

    history.append(pa.Table.from_pylist([change("c", "trial", 10)], schema=history.schema().as_arrow()))
    state = CurrentState(state_table, ["id"], arrow)
    state.follow_versions(history)
    assert state.versions == {(1,): 10}
    state.apply([change("u", "cancelled", (1 << 48) + 2)], 1)  # the new owner's change
    assert state.apply([change("u", "active", 40)], 2) is None, "the old owner's change, read late, loses"
    assert state.table.scan().to_arrow().to_pylist() == [{"id": 1, "status": "cancelled"}]
    state.apply([change("d", "cancelled", (1 << 48) + 3)], 3)
    assert state.apply([change("u", "paused", 50)], 4) is None, "a deleted row does not come back"
    assert state.table.scan().to_arrow().num_rows == 0
    plain = CurrentState(state_table, ["id"], arrow)
    assert plain.apply([change("u", "paused", 50)], 5) is not None, "without versions, the arrival order decides"
