"""The decisions of exactly-once ingestion, without a broker or a table: each message of a batch is
a row, a dead letter with its reason, or a duplicate, and the batch moves every partition it read on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from mesh_adapters.avro import RegistryUnavailable, WireFormatError
from mesh_sdk import END_OF_INPUT, SKIP, BatchContext, Skip
from mesh_sdk.ingest.batch import RecentKeys, accept, advance, sort_batch
from mesh_sdk.ingest.changes import UnexpectedChange
from mesh_sdk.ingest.platform_columns import with_platform_columns
from mesh_sdk.observe.outcome import Defect
from mesh_sdk.spec.keys import row_key
from mesh_testing.fakes import FakeMessage

CONTEXT = BatchContext(ingested_at=datetime(2026, 12, 4, 12, 0, tzinfo=UTC))
WIRE = b"\x00\x00\x00\x00\x01"  # the registry's wire format: magic byte 0, then a schema id


@dataclass(frozen=True)
class Msg(FakeMessage):
    """An input message as Kafka hands it over; `record` is what decoding it yields."""

    record: Any = None


def msg(record: Any, offset: int = 0, partition: int = 0, raw: bytes | None = WIRE) -> Msg:
    return Msg("in", partition, offset, b"k", raw, record=record)


def decode(msg: Msg) -> Mapping[str, Any]:
    if isinstance(msg.record, Exception):
        raise msg.record
    record: Mapping[str, Any] = msg.record
    return record


def transform(record: Mapping[str, Any], batch: BatchContext) -> Mapping[str, Any] | Skip | None:
    if record.get("drop"):
        return None
    if record.get("handover"):
        return SKIP
    if record.get("last"):
        return END_OF_INPUT
    if record.get("reject"):
        raise ValueError("no such title")
    return {**record, "ingested_at": batch.ingested_at}


def check(row: Mapping[str, Any]) -> list[str]:
    return [] if row.get("id") is not None else ["id is required"]


def _accept(msg: Msg) -> Any:
    return accept(msg, decode, transform, check, CONTEXT)


def test_a_valid_message_becomes_its_row() -> None:
    row, letter = _accept(msg({"id": 7}))
    assert letter is None and row == {"id": 7, "ingested_at": CONTEXT.ingested_at}


@pytest.mark.parametrize(
    ("message", "defect", "reason"),
    [
        (msg({"id": 1}, raw=b"{'id': 1}"), Defect.UNDECODABLE, "wire format"),
        (msg({"id": 1}, raw=None), Defect.UNDECODABLE, "wire format"),
        (msg(WireFormatError("unknown schema id 99")), Defect.SCHEMA_INVALID, "unknown schema id 99"),
        (msg(EOFError("truncated")), Defect.SCHEMA_INVALID, "cannot be read with the product's input schema"),
        (msg(UnexpectedChange("a change of table orders")), Defect.UNEXPECTED, "orders"),
        (msg({"id": 1, "reject": True}), Defect.CONTRACT, "rejected it: no such title"),
        (msg({"id": 1, "drop": True}), Defect.CONTRACT, "dropped it"),
        (msg({"id": None}), Defect.CONTRACT, "id is required"),
    ],
)
def test_a_message_that_cannot_be_a_row_is_a_dead_letter_with_its_reason(
    message: Msg, defect: Defect, reason: str
) -> None:
    message = replace(message, offset_=41, partition_=2)
    row, letter = _accept(message)
    assert row is None and letter is not None
    assert (letter.defect, letter.topic, letter.partition, letter.offset) == (defect, "in", 2, 41)
    assert reason in letter.reason
    assert letter.value == message.value()  # the message as it came, to be looked at and replayed


def test_a_registry_that_does_not_answer_fails_the_batch_instead_of_dead_lettering() -> None:
    with pytest.raises(RegistryUnavailable):
        _accept(msg(RegistryUnavailable("the registry is away")))


def test_a_batch_is_sorted_into_rows_dead_letters_and_duplicates() -> None:
    messages = [
        msg({"id": 1}, offset=10),
        msg({"id": 2}, offset=11),
        msg({"id": 1}, offset=12),  # again in the same batch
        msg({"id": 3}, offset=13),  # written by an earlier batch
        msg({"id": None}, offset=14),
        msg({"id": 4}, offset=5, partition=1),
    ]
    batch = sort_batch(messages, _accept, lambda row: row_key(row, ["id"]), written={"3"})
    assert [r["id"] for r in batch.rows] == [1, 2, 4]
    assert batch.keys == {"1", "2", "4"}
    assert batch.duplicates == 2 and batch.consumed == 6
    assert batch.count_dead() == {**dict.fromkeys(Defect, 0), Defect.CONTRACT: 1}
    # every message read moves its partition on, dead letters and duplicates too
    assert batch.offsets == {"in": {0: 15, 1: 6}}


def test_a_record_passed_by_is_neither_a_row_nor_a_dead_letter_and_a_last_word_ends_its_input() -> None:
    other = Msg("other", 0, 0, b"k", WIRE, record={"id": 9})
    messages = [
        msg({"id": 1}, offset=0),
        msg({"id": 2, "handover": True}, offset=1),
        msg({"id": 3, "last": True}, offset=2),
        msg({"id": 4}, offset=3),  # after the last word: it does not count
        other,
    ]
    batch = sort_batch(messages, _accept, lambda row: row_key(row, ["id"]), written=set())
    assert [r["id"] for r in batch.rows] == [1, 9], "another input goes on"
    assert batch.skipped == 3 and not batch.dead and batch.ended == {"in"}
    assert batch.offsets == {"in": {0: 4}, "other": {0: 1}}, "what was passed by is read, not read again"


def test_the_offsets_move_on_only_for_the_partitions_a_batch_read() -> None:
    offsets = {"in": {0: 3, 1: 9}, "other": {0: 1}}
    advance(offsets, {"in": {0: 15}})
    assert offsets == {"in": {0: 15, 1: 9}, "other": {0: 1}}


def test_recent_keys_forget_the_oldest_beyond_their_capacity() -> None:
    recent = RecentKeys(2)
    for key in ("a", "b", "c"):
        recent.add(key)
    assert "a" not in recent and "b" in recent and "c" in recent and len(recent) == 2


def test_a_key_joins_its_columns_in_order() -> None:
    assert row_key({"customer_id": 5, "position": 17, "x": 0}, ["customer_id", "position"]) == "5|17"


CHANGE = {
    "op": "u",
    "before": {"customer_id": 5, "email": "a@x"},
    "after": {"customer_id": 5, "email": "b@x"},
    "position": 9001,
    "committed_at": datetime(2026, 12, 4, 11, 59, tzinfo=UTC),
    "event_id": None,
    "event_type": None,
}


def _after(change: Mapping[str, Any], _batch: BatchContext) -> Mapping[str, Any] | None:
    after: Mapping[str, Any] | None = change["after"]
    return after


def test_the_platform_fills_the_columns_of_a_captured_change_that_the_contract_declares() -> None:
    columns = ["customer_id", "email", "op", "position", "changed_at", "ingested_at"]
    row = with_platform_columns(_after, columns, captured=True)(CHANGE, CONTEXT)
    assert row == {
        "customer_id": 5,
        "email": "b@x",
        "op": "u",
        "position": 9001,
        "changed_at": CHANGE["committed_at"],
        "ingested_at": CONTEXT.ingested_at,
    }


def test_a_column_the_product_sets_itself_is_kept_and_an_undeclared_one_is_not_added() -> None:
    def retire(change: Mapping[str, Any], batch: BatchContext) -> Mapping[str, Any]:
        return {**change["after"], "op": "d"}

    row = with_platform_columns(retire, ["customer_id", "email", "op", "ingested_at"], captured=True)(CHANGE, CONTEXT)
    assert row == {"customer_id": 5, "email": "b@x", "op": "d", "ingested_at": CONTEXT.ingested_at}


def test_an_event_that_is_not_a_change_gets_only_when_it_was_ingested() -> None:
    event = {"event_id": "e1", "position": 3}
    row = with_platform_columns(lambda e, _b: e, ["event_id", "position", "op", "ingested_at"], captured=False)(
        event, CONTEXT
    )
    assert row == {"event_id": "e1", "position": 3, "ingested_at": CONTEXT.ingested_at}


def test_a_dropped_record_stays_dropped() -> None:
    assert with_platform_columns(lambda e, _b: None, ["ingested_at"], captured=False)({"x": 1}, CONTEXT) is None
