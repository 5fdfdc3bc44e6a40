"""The imperfect traffic: defects in the configured shares, each kind recognisable for what it is."""

from __future__ import annotations

import io
import itertools
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import fastavro
import pytest
import yaml

from mesh_generate import (
    AvroMessage,
    Catalogue,
    Imperfections,
    Kind,
    Outgoing,
    PlaybackRecord,
    PlaybackSimulator,
    PlaybackTraffic,
    Population,
    RawMessage,
    WireDefect,
    apply_wire_defect,
)
from mesh_generate.messages import UNKNOWN_SCHEMA_ID
from mesh_generate.playback_sessions import COUNTRY_WEIGHTS
from mesh_generate.traffic import BAD_COUNTRIES, MAX_POSITION_MS

REPO = Path(__file__).resolve().parents[2]
SCHEMA = fastavro.parse_schema(json.loads((REPO / "schemas" / "playback" / "PlaybackEvent.avsc").read_text()))
CONTRACT = REPO / "products" / "playback.events" / "contract.yaml"
CATALOGUE = Catalogue.generate(100)
POPULATION = Population.generate(300)
IMPERFECT = Imperfections(late_fraction=0.05, duplicate_fraction=0.04, malformed_fraction=0.06)
SESSION_KINDS = (Kind.VALID, Kind.LATE)


def traffic(count: int, imperfections: Imperfections = IMPERFECT, seed: int = 5) -> list[Outgoing]:
    simulator = PlaybackSimulator(CATALOGUE, POPULATION, concurrent_sessions=25, seed=seed, start_ms=0)
    return list(itertools.islice(PlaybackTraffic(simulator, imperfections, seed=seed), count))


def contract_violations(record: PlaybackRecord) -> list[str]:
    """The quality rules of the playback contract, plus the one it cannot state: the title's own length."""
    broken = []
    if record["position_ms"] < 0:
        broken.append("negative-position")
    if record["position_ms"] > CATALOGUE[record["title_id"]].duration_ms:
        assert record["position_ms"] > MAX_POSITION_MS  # beyond every title, so the contract catches it
        broken.append("position-beyond-duration")
    if not re.fullmatch(r"[A-Z]{2}", record["country"]):
        broken.append("bad-country")
    return broken


def avro_bytes(record: PlaybackRecord) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, SCHEMA, dict(record))
    return b"\x00" + (42).to_bytes(4, "big") + body.getvalue()


@pytest.fixture(scope="module")
def messages() -> list[Outgoing]:
    return traffic(8_000)


def test_defects_come_in_the_configured_shares(messages: list[Outgoing]) -> None:
    shares = {kind: n / len(messages) for kind, n in Counter(m.kind for m in messages).items()}

    assert shares[Kind.LATE] == pytest.approx(0.05, abs=0.01)
    assert shares[Kind.DUPLICATE] == pytest.approx(0.04, abs=0.01)
    for kind in (Kind.UNDECODABLE, Kind.SCHEMA_INVALID, Kind.CONTRACT_BREAKING):
        assert shares[kind] == pytest.approx(0.02, abs=0.006)
    assert shares[Kind.VALID] == pytest.approx(0.85, abs=0.015)


def test_the_same_seed_sends_the_same_traffic() -> None:
    assert traffic(1_500, seed=9) == traffic(1_500, seed=9)
    assert traffic(1_500, seed=9) != traffic(1_500, seed=10)


def test_without_imperfections_everything_is_valid() -> None:
    clean = Imperfections(late_fraction=0, duplicate_fraction=0, malformed_fraction=0)

    assert {m.kind for m in traffic(2_000, clean)} == {Kind.VALID}


def test_every_session_event_is_sent_once_as_valid_or_late(messages: list[Outgoing]) -> None:
    session_events = [m for m in messages if m.kind in SESSION_KINDS]

    assert all(isinstance(m, AvroMessage) and not contract_violations(m.record) for m in session_events)
    assert len({m.record["event_id"] for m in session_events if isinstance(m, AvroMessage)}) == len(session_events)


def test_a_duplicate_repeats_an_event_already_sent(messages: list[Outgoing]) -> None:
    sent: dict[str, PlaybackRecord] = {}
    duplicates = 0
    for message in messages:
        if message.kind in SESSION_KINDS and isinstance(message, AvroMessage):
            sent[message.record["event_id"]] = message.record
        if message.kind is Kind.DUPLICATE:
            assert isinstance(message, AvroMessage)
            assert sent[message.record["event_id"]] == message.record
            assert message.key == message.record["session_id"]
            duplicates += 1
    assert duplicates > 100


def test_a_late_event_arrives_well_after_later_events(messages: list[Outgoing]) -> None:
    latest_sent = 0
    low, _ = IMPERFECT.lateness_ms
    lates = 0
    for message in messages:
        if not isinstance(message, AvroMessage):
            continue
        occurred_at = message.record["occurred_at"]
        if message.kind is Kind.LATE:
            lates += 1
            assert occurred_at <= latest_sent - low
        elif message.kind is Kind.VALID:
            assert occurred_at >= latest_sent  # the rest is in order
        latest_sent = max(latest_sent, occurred_at)
    assert lates > 300


def test_contract_breaking_records_are_valid_avro_that_break_one_rule(messages: list[Outgoing]) -> None:
    breaking = [m for m in messages if m.kind is Kind.CONTRACT_BREAKING]

    assert {m.defect for m in breaking} == {"negative-position", "position-beyond-duration", "bad-country"}
    for message in breaking:
        assert isinstance(message, AvroMessage)
        assert message.wire_defect is None
        assert fastavro.validate(dict(message.record), SCHEMA, raise_errors=False)
        assert contract_violations(message.record) == [message.defect]


def test_undecodable_messages_do_not_start_with_a_magic_byte(messages: list[Outgoing]) -> None:
    undecodable = [m for m in messages if m.kind is Kind.UNDECODABLE]

    assert {m.defect for m in undecodable} == {"random-bytes", "plain-text"}
    for message in undecodable:
        assert isinstance(message, RawMessage)
        assert message.payload[0] not in (0, 1)  # 0 and 1 would claim the Confluent wire format


def test_schema_invalid_messages_cannot_be_read_with_the_schema(messages: list[Outgoing]) -> None:
    invalid = [m for m in messages if m.kind is Kind.SCHEMA_INVALID]

    assert {m.defect for m in invalid} == {"json-text", "unknown-schema-id", "truncated-avro"}
    for message in invalid:
        if isinstance(message, RawMessage):
            assert json.loads(message.payload)["session_id"] == message.key
        else:
            assert message.wire_defect is not None
            assert message.wire_defect.value == message.defect


def test_wire_defects_break_the_schema_id_or_the_body() -> None:
    record = next(m.record for m in traffic(10) if isinstance(m, AvroMessage) and m.kind is Kind.VALID)
    payload = avro_bytes(record)

    unknown = apply_wire_defect(payload, WireDefect.UNKNOWN_SCHEMA_ID)
    truncated = apply_wire_defect(payload, WireDefect.TRUNCATED)

    assert unknown[0] == 0
    assert int.from_bytes(unknown[1:5], "big") == UNKNOWN_SCHEMA_ID
    assert unknown[5:] == payload[5:]
    assert truncated == payload[: len(truncated)]
    with pytest.raises(EOFError):
        fastavro.schemaless_reader(io.BytesIO(truncated[5:]), SCHEMA, SCHEMA)


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"late_fraction": 1.5}, "between 0 and 1"),
        ({"duplicate_fraction": -0.1}, "between 0 and 1"),
        ({"late_fraction": 0.5, "duplicate_fraction": 0.3, "malformed_fraction": 0.2}, "below 1"),
        ({"lateness_ms": (0, 10)}, "positive"),
        ({"duplicate_window": 0}, "at least one"),
    ],
)
def test_impossible_imperfections_are_refused(settings: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Imperfections(**settings)


def test_the_generator_breaks_and_keeps_the_rules_of_the_playback_contract() -> None:
    properties = {p["name"]: p for p in yaml.safe_load(CONTRACT.read_text())["schema"][0]["properties"]}
    position = properties["position_ms"]["logicalTypeOptions"]
    country = re.compile(properties["country"]["logicalTypeOptions"]["pattern"])

    assert (position["minimum"], position["maximum"]) == (0, MAX_POSITION_MS)
    assert all(t.duration_ms <= MAX_POSITION_MS for t in CATALOGUE.titles)
    assert all(country.match(c) for c in COUNTRY_WEIGHTS)
    assert not any(country.match(c) for c in BAD_COUNTRIES)
