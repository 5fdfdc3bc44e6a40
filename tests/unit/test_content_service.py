"""The content team's domain and workload without a server: the seeded catalogue agrees with the playback
generator's, events carry the full title state with the titles' columns as keys, the rules hold, and
the workload's mix and counts are right (an in-memory writer plays the service)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import random
import uuid
from collections import Counter

import pytest

from mesh_generate.playback_sessions import Catalogue
from mesh_sources.content import ContentWorkload
from mesh_sources.content_model import (
    EVENT_TYPES,
    GENRES,
    MATURITY,
    OUTBOX_COLUMNS,
    TITLE_COLUMNS,
    TITLE_CREATED,
    TITLE_RETIRED,
    TITLE_UPDATED,
    TitleChanges,
    TitleDraft,
    TitleEvent,
    TitleNotFound,
    TitleRuleViolation,
    TitleState,
    check_title,
    draw_title,
    event_type,
    seed_titles,
)
from mesh_sources.content_ops import ContentPlanner, RetireTitle, TitleSummary, UpdateTitle

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)


class MemoryWriter:
    """`ContentService` semantics over a dict: the same rules, the same event types."""

    def __init__(self, titles: int = 100) -> None:
        self.titles_by_id = {s.title_id: s for s in seed_titles(titles, NOW)}
        self.events: list[TitleEvent] = []
        self.ids = itertools.count(titles + 1)
        self.closed = False

    def titles(self) -> list[TitleSummary]:
        return [TitleSummary(s.title_id, s.kind, s.available) for s in self.titles_by_id.values()]

    def _publish(self, old: TitleState | None, new: TitleState) -> TitleEvent:
        check_title(new)
        self.titles_by_id[new.title_id] = new
        event = TitleEvent(uuid.uuid4(), event_type(old, new), new)
        self.events.append(event)
        return event

    def add_title(self, draft: TitleDraft) -> TitleEvent:
        return self._publish(None, draft.with_id(next(self.ids), NOW))

    def update_title(self, title_id: int, changes: TitleChanges) -> TitleEvent:
        old = self.titles_by_id.get(title_id)
        if old is None:
            raise TitleNotFound(title_id)
        return self._publish(old, changes.apply(old, NOW))

    def retire_title(self, title_id: int) -> TitleEvent:
        old = self.titles_by_id[title_id]
        if not old.available:
            raise TitleRuleViolation(f"title {title_id} is already retired")
        return self._publish(old, TitleChanges(available=False).apply(old, NOW))

    def close(self) -> None:
        self.closed = True


# --- the catalogue --------------------------------------------------------------------------------


def test_the_seeded_titles_are_the_playback_catalogue() -> None:
    states = seed_titles(500, NOW)
    catalogue = Catalogue.generate(500)

    assert [s.title_id for s in states] == list(range(1, 501))
    for state, title in zip(states, catalogue.titles, strict=True):
        assert state.kind == title.kind
        assert state.duration_s == title.duration_ms // 1000
        check_title(state)
    assert states == seed_titles(500, NOW)
    assert all(s.available and s.updated_at == NOW for s in states)
    assert {len(s.genres) for s in states} == {1, 2, 3}
    assert set(itertools.chain.from_iterable(s.genres for s in states)) == set(GENRES)
    assert {s.maturity for s in states if s.kind == "film"} <= set(MATURITY["film"])
    assert {s.maturity for s in states if s.kind == "episode"} <= set(MATURITY["episode"])


def test_a_payload_is_the_full_state_keyed_by_the_titles_columns() -> None:
    state = seed_titles(3, NOW)[2]
    event = TitleEvent(uuid.UUID(int=7), TITLE_UPDATED, state)

    payload = json.loads(event.payload)

    assert list(payload) == list(TITLE_COLUMNS)
    assert payload["title_id"] == 3 and payload["genres"] == list(state.genres)
    assert payload["updated_at"] == "2025-06-01T12:00:00.123456+00:00"
    assert dt.datetime.fromisoformat(payload["updated_at"]) == NOW
    assert payload == {**dataclasses.asdict(state), "genres": list(state.genres), "updated_at": payload["updated_at"]}


def test_an_outbox_row_has_the_columns_the_event_router_reads() -> None:
    state = seed_titles(42, NOW)[41]
    row = TitleEvent(uuid.UUID(int=9), TITLE_CREATED, state).outbox_row()

    assert len(row) == len(OUTBOX_COLUMNS)
    values = dict(zip(OUTBOX_COLUMNS, row, strict=True))
    assert values["id"] == uuid.UUID(int=9)
    assert (values["aggregatetype"], values["aggregateid"], values["type"]) == ("title", "42", "TitleCreated")
    assert isinstance(values["payload"], str) and json.loads(values["payload"])["title_id"] == 42


def test_a_state_row_is_in_column_order_with_genres_as_a_list() -> None:
    state = seed_titles(1, NOW)[0]

    row = state.row()

    assert len(row) == len(TITLE_COLUMNS)
    assert row[TITLE_COLUMNS.index("genres")] == list(state.genres)
    assert TitleState.from_row(row) == state


def test_event_types_follow_availability() -> None:
    state = seed_titles(1, NOW)[0]
    retired = TitleChanges(available=False).apply(state, NOW)
    back = TitleChanges(available=True).apply(retired, NOW)

    assert event_type(None, state) == TITLE_CREATED
    assert event_type(state, TitleChanges(name="Renamed").apply(state, NOW)) == TITLE_UPDATED
    assert event_type(state, retired) == TITLE_RETIRED
    assert event_type(retired, back) == TITLE_UPDATED
    assert set(EVENT_TYPES) == {TITLE_CREATED, TITLE_UPDATED, TITLE_RETIRED}


def test_changes_touch_only_their_fields_and_the_timestamp() -> None:
    state = seed_titles(1, NOW)[0]
    later = NOW + dt.timedelta(minutes=5)

    changed = TitleChanges(genres=("drama", "crime")).apply(state, later)

    assert changed == dataclasses.replace(state, genres=("drama", "crime"), updated_at=later)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"name": " "}, "name is empty"),
        ({"genres": ()}, "1 to 3 distinct genres"),
        ({"genres": ("drama", "drama")}, "1 to 3 distinct genres"),
        ({"genres": ("drama", "crime", "comedy", "horror")}, "1 to 3 distinct genres"),
        ({"genres": ("telenovela",)}, "unknown genres"),
        ({"maturity": "TV-MA", "kind": "film"}, "not a rating for a film"),
        ({"duration_s": 0}, "not positive"),
        ({"kind": "podcast"}, "kind 'podcast'"),
        ({"release_year": 1850}, "implausible"),
    ],
)
def test_the_rules_refuse_a_broken_title(change: dict[str, object], complaint: str) -> None:
    state = dataclasses.replace(seed_titles(1, NOW)[0], kind="film", maturity="PG")
    check_title(state)

    with pytest.raises(TitleRuleViolation, match=complaint):
        check_title(dataclasses.replace(state, **change))  # type: ignore[arg-type]


def test_drawn_titles_obey_the_rules() -> None:
    rng = random.Random(4)
    for title_id in range(1, 300):
        check_title(draw_title(rng).with_id(title_id, NOW))


# --- the workload ------------------------------------------------------------------------------------


def test_the_workload_mostly_edits_and_counts_events_by_type() -> None:
    writer = MemoryWriter()
    workload = ContentWorkload(writer, seed=3)

    written = sum(workload.step() for _ in range(1_000))

    counts = workload.counts
    assert written == counts.transactions == 1_000 == len(writer.events)
    assert counts.events == Counter(e.type for e in writer.events)
    assert set(counts.events) == set(EVENT_TYPES)
    assert counts.events[TITLE_UPDATED] > counts.events[TITLE_CREATED] > 0
    assert counts.events[TITLE_RETIRED] > 0
    assert counts.skipped == 0  # alone with its database, the planner never proposes what cannot apply
    assert max(writer.titles_by_id) > 100  # new titles get new ids
    workload.close()
    assert writer.closed


def test_a_title_retired_by_someone_else_is_skipped_and_the_view_refreshed() -> None:
    writer = MemoryWriter(titles=20)
    workload = ContentWorkload(writer, seed=1, refresh_every=10_000)
    for title_id in range(1, 21):  # another instance of the service retires everything
        writer.retire_title(title_id)
    writer.events.clear()

    for _ in range(100):
        workload.step()

    assert workload.counts.skipped > 0
    assert workload.counts.transactions == len(writer.events) == 100
    assert workload.counts.events == Counter(e.type for e in writer.events)


def test_the_planner_retires_only_available_titles_and_brings_back_only_retired_ones() -> None:
    titles = [TitleSummary(i, "film", i % 3 != 0) for i in range(1, 61)]
    planner = ContentPlanner(titles, seed=9)

    actions = [planner.next_action() for _ in range(2_000)]

    retired = [a.title_id for a in actions if isinstance(a, RetireTitle)]
    revived = [a.title_id for a in actions if isinstance(a, UpdateTitle) and a.changes.available is True]
    assert retired and all(t % 3 != 0 for t in retired)
    assert revived and all(t % 3 == 0 for t in revived)


def test_a_seed_replays_the_same_edits() -> None:
    titles = [TitleSummary(i, "episode", True) for i in range(1, 30)]
    one, two, other = (ContentPlanner(titles, seed=s) for s in (5, 5, 6))

    assert [one.next_action() for _ in range(100)] == [two.next_action() for _ in range(100)]
    assert [one.next_action() for _ in range(100)] != [other.next_action() for _ in range(100)]
