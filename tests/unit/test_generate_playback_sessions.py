"""The simulated viewing sessions: deterministic, well-formed, realistic in shape."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from pathlib import Path

import fastavro
import pytest

from mesh_generate.playback_sessions import (
    COUNTRY_WEIGHTS,
    DEVICE_WEIGHTS,
    HEARTBEAT_INTERVAL_MS,
    Catalogue,
    PlaybackRecord,
    PlaybackSimulator,
    Population,
    sessions_for_rate,
)

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "playback" / "PlaybackEvent.avsc"
START_MS = 1_764_000_000_000
CATALOGUE = Catalogue.generate(120)
POPULATION = Population.generate(400)


def simulate(events: int, *, sessions: int = 40, seed: int = 7) -> list[PlaybackRecord]:
    simulator = PlaybackSimulator(CATALOGUE, POPULATION, concurrent_sessions=sessions, seed=seed, start_ms=START_MS)
    return list(itertools.islice(simulator, events))


def by_session(records: list[PlaybackRecord]) -> dict[str, list[PlaybackRecord]]:
    sessions: dict[str, list[PlaybackRecord]] = defaultdict(list)
    for record in records:
        sessions[record["session_id"]].append(record)
    return sessions


@pytest.fixture(scope="module")
def records() -> list[PlaybackRecord]:
    return simulate(30_000)


@pytest.fixture(scope="module")
def finished_sessions(records: list[PlaybackRecord]) -> list[list[PlaybackRecord]]:
    return [events for events in by_session(records).values() if events[-1]["event_type"] == "STOP"]


def test_the_same_seed_replays_the_same_events() -> None:
    assert simulate(2_000, seed=11) == simulate(2_000, seed=11)
    assert simulate(2_000, seed=11) != simulate(2_000, seed=12)


def test_the_catalogue_has_films_and_episodes_of_realistic_length() -> None:
    films = [t for t in CATALOGUE.titles if t.kind == "film"]
    episodes = [t for t in CATALOGUE.titles if t.kind == "episode"]

    assert films and episodes
    assert all(80 * 60_000 <= t.duration_ms <= 180 * 60_000 for t in films)
    assert all(20 * 60_000 <= t.duration_ms <= 60 * 60_000 for t in episodes)
    assert [t.title_id for t in CATALOGUE.titles] == list(range(1, 121))
    assert Catalogue.generate(120) == CATALOGUE  # the same world whatever the traffic seed


def test_records_fit_the_avro_schema(records: list[PlaybackRecord]) -> None:
    schema = fastavro.parse_schema(json.loads(SCHEMA.read_text()))

    assert all(fastavro.validate(r, schema, raise_errors=False) for r in records[:3_000])


def test_fields_stay_within_the_population_catalogue_and_enumerations(records: list[PlaybackRecord]) -> None:
    assert {r["customer_id"] for r in records} <= set(range(1, 401))
    assert {r["title_id"] for r in records} <= set(range(1, 121))
    assert {r["device"] for r in records} == set(DEVICE_WEIGHTS)
    assert {r["country"] for r in records} <= set(COUNTRY_WEIGHTS)
    assert len({r["event_id"] for r in records}) == len(records)


def test_events_come_in_time_order_and_sessions_interleave(records: list[PlaybackRecord]) -> None:
    times = [r["occurred_at"] for r in records]

    assert times == sorted(times)
    assert times[0] >= START_MS
    assert len({r["session_id"] for r in records[:200]}) >= 30  # many sessions at once, not one by one


def test_a_session_is_play_first_stop_last_and_one_device(
    finished_sessions: list[list[PlaybackRecord]],
) -> None:
    assert len(finished_sessions) > 200
    for events in finished_sessions:
        kinds = [e["event_type"] for e in events]
        assert kinds[0] == "PLAY"
        assert kinds[-1] == "STOP"
        assert "STOP" not in kinds[:-1]
        assert len({(e["customer_id"], e["title_id"], e["device"], e["country"]) for e in events}) == 1


def test_a_pause_is_followed_by_play(finished_sessions: list[list[PlaybackRecord]]) -> None:
    pauses = 0
    for events in finished_sessions:
        for event, after in itertools.pairwise(events):
            if event["event_type"] == "PAUSE":
                pauses += 1
                assert after["event_type"] == "PLAY"
                assert after["position_ms"] == event["position_ms"]
    assert pauses > 20


def test_heartbeats_come_every_30_s_of_playback_and_the_playhead_moves_with_time(
    finished_sessions: list[list[PlaybackRecord]],
) -> None:
    heartbeats = seeks = 0
    for events in finished_sessions:
        played_since_heartbeat = 0
        for before, event in itertools.pairwise(events):
            # Between a PAUSE and the PLAY that ends it, time passes but nothing plays.
            played = 0 if before["event_type"] == "PAUSE" else event["occurred_at"] - before["occurred_at"]
            played_since_heartbeat += played
            if event["event_type"] == "SEEK":
                seeks += 1
            else:
                assert event["position_ms"] == before["position_ms"] + played
            if event["event_type"] == "HEARTBEAT":
                heartbeats += 1
                assert played_since_heartbeat == HEARTBEAT_INTERVAL_MS
                played_since_heartbeat = 0
            else:
                assert played_since_heartbeat <= HEARTBEAT_INTERVAL_MS
    assert heartbeats > 5_000
    assert seeks > 20


def test_positions_stay_within_the_title(records: list[PlaybackRecord]) -> None:
    assert all(0 <= r["position_ms"] <= CATALOGUE[r["title_id"]].duration_ms for r in records)


def test_some_sessions_are_watched_to_the_end_and_others_abandoned(
    finished_sessions: list[list[PlaybackRecord]],
) -> None:
    completed = sum(
        events[-1]["position_ms"] >= 0.95 * CATALOGUE[events[-1]["title_id"]].duration_ms
        for events in finished_sessions
    )
    assert 0.45 <= completed / len(finished_sessions) <= 0.75
    resumed = sum(events[0]["position_ms"] > 0 for events in finished_sessions)
    assert 0.15 <= resumed / len(finished_sessions) <= 0.45


def test_devices_follow_their_weights(records: list[PlaybackRecord]) -> None:
    sessions = {r["session_id"]: r["device"] for r in records}
    shares = Counter(sessions.values())
    assert shares.most_common(1)[0][0] == "TV"
    assert shares["TABLET"] < shares["MOBILE"]


def test_sessions_for_a_rate_keep_simulated_time_at_the_pace_of_the_wall_clock() -> None:
    rate = 20
    minutes = 30
    records = simulate(rate * 60 * minutes, sessions=sessions_for_rate(rate), seed=3)

    simulated_s = (records[-1]["occurred_at"] - START_MS) / 1000

    assert simulated_s == pytest.approx(60 * minutes, rel=0.1)


@pytest.mark.parametrize("bad", [0, -3])
def test_empty_worlds_are_refused(bad: int) -> None:
    with pytest.raises(ValueError):
        Catalogue.generate(bad)
    with pytest.raises(ValueError):
        Population.generate(bad)
    with pytest.raises(ValueError):
        PlaybackSimulator(CATALOGUE, POPULATION, concurrent_sessions=bad, seed=1, start_ms=0)
