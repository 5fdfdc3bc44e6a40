"""The audit log's pure logic: records, canonical digests, the hash chain, and how verification names
the first broken link. No servers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from mesh_adapters.avro import WireFormatError
from mesh_audit.chain import Reason, compare_stores, first_break, summarize, verify_chain
from mesh_audit.decode import ChangeReader, RawMessage, TopicKind, Unreadable
from mesh_audit.events import Coordinates, cdc_change, entity_key, stream_change
from mesh_audit.record import (
    GENESIS,
    AuditRecord,
    ChainHead,
    Change,
    canonical_json,
    digest,
    from_jsonl,
    link,
    link_all,
    to_jsonl,
)

AT = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def change(n: int, key: str = "42", op: str = "u") -> Change:
    return Change(
        occurred_at=AT - timedelta(seconds=1),
        source="cdc.legacy.public.customers",
        source_table="legacy.public.customers",
        entity_key=key,
        operation=op,
        before_digest=digest({"id": int(key), "n": n - 1}),
        after_digest=digest({"id": int(key), "n": n}),
        payload_ref=f"kafka://cdc.legacy.public.customers/0/{n}",
    )


def chain_of(count: int) -> list[AuditRecord]:
    return link_all([change(n) for n in range(count)], ChainHead(), AT)


# --- records and digests -------------------------------------------------------------------------------


def test_canonical_json_is_one_spelling_per_value() -> None:
    one = {"b": [1, 2], "a": {"y": None, "x": "é"}}
    other = {"a": {"x": "é", "y": None}, "b": [1, 2]}

    assert canonical_json(one) == canonical_json(other) == '{"a":{"x":"\\u00e9","y":null},"b":[1,2]}'
    assert digest(one) == digest(other) == hashlib.sha256(canonical_json(one).encode()).hexdigest()


def test_types_json_lacks_are_digested_as_text() -> None:
    value = {"price": Decimal("9.90"), "at": datetime(2025, 1, 1, tzinfo=UTC), "raw": b"\x01"}

    assert canonical_json(value) == '{"at":"2025-01-01 00:00:00+00:00","price":"9.90","raw":"b\'\\\\x01\'"}'


def test_no_image_has_no_digest() -> None:
    assert digest(None) is None
    assert digest({}) is not None


def test_the_first_record_follows_the_genesis_and_hashes_prev_hash_plus_its_content() -> None:
    record = link(change(1), ChainHead(), AT)

    content = {k: v for k, v in record.to_json().items() if k not in ("prev_hash", "hash")}
    assert record.sequence == 1
    assert record.prev_hash == GENESIS == "0" * 64
    assert record.hash == hashlib.sha256((GENESIS + canonical_json(content)).encode()).hexdigest()
    assert record.recorded_at == AT
    assert content["recorded_at"] == "2025-03-01T12:00:00.123456+00:00"


def test_records_continue_the_chain_from_its_head() -> None:
    first = chain_of(3)
    more = link_all([change(7), change(8)], ChainHead.after(first[-1]), AT)

    assert [r.sequence for r in first + more] == [1, 2, 3, 4, 5]
    assert more[0].prev_hash == first[-1].hash
    assert verify_chain(first + more, "test") is None


def test_json_lines_round_trip_keeps_every_hash_valid() -> None:
    records = chain_of(4)

    back = from_jsonl(to_jsonl(records))

    assert back == records
    assert verify_chain(back, "objects") is None


# --- what messages say -----------------------------------------------------------------------------------

COORDS = Coordinates("cdc.legacy.public.customers", 2, 17, datetime(2025, 3, 1, tzinfo=UTC))


def test_a_debezium_envelope_gives_op_table_key_digests_and_source_time() -> None:
    envelope = {
        "before": {"id": 42, "email": "a@x"},
        "after": {"id": 42, "email": "b@x"},
        "source": {"db": "legacy", "schema": "public", "table": "customers", "ts_ms": 1740830400000, "lsn": 9},
        "op": "u",
        "ts_ms": 1740830401000,
    }

    c = cdc_change(COORDS, {"id": 42}, envelope, {})

    assert c.operation == "u"
    assert c.source == "cdc.legacy.public.customers"
    assert c.source_table == "legacy.public.customers"
    assert c.entity_key == "42"
    assert c.before_digest == digest({"email": "a@x", "id": 42})
    assert c.after_digest == digest({"id": 42, "email": "b@x"})
    assert c.occurred_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert c.payload_ref == "kafka://cdc.legacy.public.customers/2/17"


def test_a_delete_has_no_after_and_a_composite_key_joins_in_field_order() -> None:
    envelope = {"before": {"a": 1}, "after": None, "source": {}, "op": "d", "ts_ms": None}

    c = cdc_change(COORDS, {"tenant": "t1", "id": 7}, envelope, {})

    assert (c.operation, c.after_digest, c.entity_key) == ("d", None, "t1|7")
    assert c.occurred_at == COORDS.timestamp  # no source time: the Kafka timestamp
    assert entity_key(None) is None


def test_an_impossible_source_time_falls_back_rather_than_failing() -> None:
    envelope = {"before": None, "after": {"id": 1}, "source": {"ts_ms": 10**20}, "op": "c", "ts_ms": 1740830401000}

    c = cdc_change(COORDS, {"id": 1}, envelope, {})

    assert c.occurred_at == datetime(2025, 3, 1, 12, 0, 1, tzinfo=UTC)
    assert c.source_table is None


def test_an_outbox_event_is_an_after_image_typed_by_its_header() -> None:
    payload = '{"title_id": 3, "name": "Dune"}'

    typed = cdc_change(COORDS, "3", payload, {"type": b"TitleRenamed"})
    untyped = cdc_change(COORDS, "3", {"title_id": 3}, {})

    assert typed.operation == "TitleRenamed"
    assert typed.before_digest is None
    assert typed.after_digest == digest({"name": "Dune", "title_id": 3})  # JSON text digested as its value
    assert untyped.operation == "c"


def test_a_product_stream_row_uses_its_own_op_and_images_when_it_has_them() -> None:
    at = Coordinates("playback.events.stream.v1", 0, 5, AT)

    plain = stream_change(at, "e-1", {"event_id": "e-1", "kind": "PLAY"})
    own = stream_change(at, "e-1", {"op": "d", "before": {"event_id": "e-1"}, "after": None})

    assert (plain.operation, plain.before_digest, plain.after_digest) == (
        "c",
        None,
        digest({"event_id": "e-1", "kind": "PLAY"}),
    )
    assert (own.operation, own.before_digest, own.after_digest) == ("d", digest({"event_id": "e-1"}), None)
    assert plain.occurred_at == AT


def _fake_wire(value: Any) -> bytes:
    return b"\x00" + struct.pack(">I", 1) + json.dumps(value).encode()


def _fake_decode(payload: bytes) -> Any:
    if payload[:1] != b"\x00":
        raise WireFormatError("not in the registry's Avro wire format")
    return json.loads(payload[5:])


def test_the_reader_skips_tombstones_and_records_garbage_as_unreadable() -> None:
    reader = ChangeReader(_fake_decode)
    tombstone = RawMessage("cdc.legacy.public.customers", 0, 1, 1000, _fake_wire({"id": 1}), None)
    garbage = RawMessage("cdc.legacy.public.customers", 0, 2, 1000, _fake_wire({"id": 1}), b"not avro")
    good = RawMessage("shop.orders.stream.v1", 1, 3, 1000, b"o-9", _fake_wire({"order": "o-9"}))

    assert reader.read(tombstone) is None
    unreadable = reader.read(garbage)
    assert isinstance(unreadable, Unreadable)
    assert unreadable.change.operation == "unreadable"
    assert unreadable.change.before_digest is None
    assert unreadable.change.after_digest == hashlib.sha256(b"not avro").hexdigest()
    assert unreadable.change.entity_key == "1"
    assert "wire format" in unreadable.reason
    read = reader.read(good)
    assert isinstance(read, Change)
    assert (read.entity_key, read.operation, read.payload_ref) == ("o-9", "c", "kafka://shop.orders.stream.v1/1/3")


def test_every_change_stream_of_a_product_is_audited_and_its_masked_twins_are_not() -> None:
    reader = ChangeReader(_fake_decode)
    decision = RawMessage("customers.customer-360.decisions-stream.v1", 0, 7, 1000, b"3", _fake_wire({"decision": 3}))
    read = reader.read(decision)
    assert isinstance(read, Change) and read.entity_key == "3"
    assert reader.kind("customers.customer-360.stream.v1") is TopicKind.STREAM
    assert reader.kind("playback.events.stream-masked.v1") is None, "masked twins copy audited streams"


# --- verification ------------------------------------------------------------------------------------------


def test_an_intact_chain_verifies() -> None:
    assert verify_chain(chain_of(10), "iceberg") is None
    assert verify_chain([], "iceberg") is None


def test_a_rewritten_record_is_a_hash_mismatch_at_its_sequence() -> None:
    records = chain_of(6)
    records[3] = dataclasses.replace(records[3], operation="d")

    broken = verify_chain(records, "iceberg")

    assert broken is not None
    assert (broken.sequence, broken.store, broken.reason) == (4, "iceberg", Reason.HASH_MISMATCH)
    assert broken.found == f"hash {records[3].hash}"
    assert broken.expected == f"hash {records[3].expected_hash()}"


def test_a_rewritten_and_rehashed_record_breaks_the_next_link() -> None:
    records = chain_of(6)
    forged = dataclasses.replace(records[2], entity_key="99")
    records[2] = dataclasses.replace(forged, hash=forged.expected_hash())

    broken = verify_chain(records, "iceberg")

    assert broken is not None
    assert (broken.sequence, broken.reason) == (4, Reason.BROKEN_LINK)
    assert broken.expected.startswith(f"prev_hash {records[2].hash}")
    assert broken.found == f"prev_hash {chain_of(6)[2].hash}"


def test_a_deleted_record_is_a_gap_naming_the_missing_sequence() -> None:
    records = chain_of(6)
    del records[2]

    broken = verify_chain(records, "objects", locations=["chain/a"] * 5)

    assert broken is not None
    assert (broken.sequence, broken.reason, broken.location) == (3, Reason.SEQUENCE_GAP, "chain/a")
    assert "sequence 4" in broken.found


def test_reordered_records_are_named() -> None:
    records = chain_of(6)
    records[2], records[3] = records[3], records[2]

    broken = verify_chain(records, "objects")

    assert broken is not None
    assert (broken.sequence, broken.reason) == (3, Reason.SEQUENCE_GAP)  # 4 came where 3 belongs
    duplicated = verify_chain([*chain_of(3), chain_of(3)[1]], "objects")
    assert duplicated is not None
    assert (duplicated.sequence, duplicated.reason) == (2, Reason.REORDER)


def test_swapped_sequence_numbers_are_a_hash_mismatch_at_the_first() -> None:
    records = chain_of(6)
    a, b = records[1], records[4]
    swapped = [dataclasses.replace(r, sequence=b.sequence) if r is a else r for r in records]
    swapped = [dataclasses.replace(r, sequence=a.sequence) if r is b else r for r in swapped]

    broken = verify_chain(sorted(swapped, key=lambda r: r.sequence), "iceberg")

    assert broken is not None
    assert (broken.sequence, broken.reason) == (2, Reason.HASH_MISMATCH)


def test_a_chain_must_start_at_the_genesis() -> None:
    records = chain_of(3)

    broken = verify_chain(records[1:], "iceberg")
    from_head = verify_chain(records[1:], "iceberg", start=ChainHead.after(records[0]))

    assert broken is not None
    assert (broken.sequence, broken.reason) == (1, Reason.SEQUENCE_GAP)
    assert from_head is None


def test_stores_are_compared_record_by_record() -> None:
    records = chain_of(5)
    changed = [*records[:3], dataclasses.replace(records[3], source="x"), records[4]]

    missing = compare_stores(records, records[:4], ("iceberg", "objects"))
    disagree = compare_stores(records, changed, ("iceberg", "objects"), locations_b=["k"] * 5)

    assert missing is not None
    assert (missing.sequence, missing.store, missing.reason) == (5, "objects", Reason.MISSING)
    assert disagree is not None
    assert (disagree.sequence, disagree.reason, disagree.location) == (4, Reason.DISAGREE, "k")
    assert "source" in disagree.expected
    assert compare_stores(records, list(records), ("iceberg", "objects")) is None


def test_the_first_break_is_the_earliest_and_a_chain_break_explains_a_disagreement() -> None:
    records = chain_of(5)
    tampered = [*records[:1], dataclasses.replace(records[1], operation="c"), *records[2:]]
    own = verify_chain(tampered, "objects")
    cross = compare_stores(records, tampered, ("iceberg", "objects"))
    later = verify_chain(records[:3] + records[4:], "iceberg")

    found = first_break(later, cross, own, None)

    assert found is own
    assert found is not None
    assert found.describe().startswith("sequence 2 in objects: hash mismatch")
    assert first_break(None, None) is None


def test_the_summary_counts_sources_and_spans() -> None:
    records = chain_of(3) + link_all(
        [dataclasses.replace(change(9), source="shop.orders.stream.v1", occurred_at=None)],
        ChainHead.after(chain_of(3)[-1]),
        AT + timedelta(minutes=1),
    )

    summary = summarize(records)

    assert summary.records == 4
    assert summary.sources == {"cdc.legacy.public.customers": 3, "shop.orders.stream.v1": 1}
    assert (summary.first_sequence, summary.last_sequence) == (1, 4)
    assert (summary.first_recorded_at, summary.last_recorded_at) == (AT, AT + timedelta(minutes=1))


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        link(dataclasses.replace(change(1), occurred_at=datetime(2025, 1, 1)), ChainHead(), AT)
