"""How playback events become viewing sessions and daily watch time: the domain logic alone, on
events with chosen times (no servers)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from mesh_sdk.derive.state import DerivationStates
from mesh_sdk.spec.logic import Context, Inputs, Update
from mesh_sdk.spec.product import load_product
from mesh_testing.fakes import MemoryArtifacts, NoArtifacts

PRODUCT = load_product(Path(__file__).resolve().parents[1])
logic = sys.modules[PRODUCT.derivation.__module__]  # type: ignore[union-attr]
T0 = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
TITLES = pa.Table.from_pylist(
    [{"title_id": 7, "name": "Night Train", "primary_genre": "thriller", "duration_s": 600.0}]
)
CUSTOMERS = pa.Table.from_pylist([{"customer_id": 1, "country": "NL"}, {"customer_id": 2, "country": "DE"}])
_ids = iter(range(1_000_000))


def ev(
    minute: float,
    kind: str = "HEARTBEAT",
    *,
    customer: int = 1,
    title: int = 7,
    position_s: float | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id or f"e{next(_ids)}",
        "customer_id": customer,
        "title_id": title,
        "event_type": kind,
        "position_ms": int((position_s if position_s is not None else minute * 60) * 1000),
        "occurred_at": T0 + timedelta(minutes=minute),
        "device": "TV",
        "country": "BE",
    }


class Mesh:
    """The derivation with its inputs, refreshed batch by batch as the platform would."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state: dict[str, Any] = {} if state is None else state
        self.derivation = PRODUCT.derivation(Context(PRODUCT.id, NoArtifacts(), self.state))  # type: ignore[misc]
        self.sessions: dict[str, dict[str, Any]] = {}
        self.daily: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.batches = 0

    def inputs(self, rows: list[dict[str, Any]]) -> Inputs:
        self.batches += 1
        tables = {"titles": TITLES, "customers": CUSTOMERS}
        return Inputs(
            {"playback": self.batches, "titles": 1, "customers": 1},
            frozenset({"playback"}),
            T0,
            _new={"playback": pa.Table.from_pylist(rows) if rows else pa.table({})},
            _read=lambda port, where=None: tables[port],
        )

    def feed(self, *rows: dict[str, Any]) -> dict[str, Update]:
        updates = self.derivation.refresh(self.inputs(list(rows)))
        for row in updates["sessions"].rows:
            self.sessions[row["session_id"]] = dict(row)
        for gone in updates["sessions"].deleted:
            del self.sessions[gone["session_id"]]
        for row in updates["daily"].rows:
            self.daily[(row["day"], row["customer_id"], row["title_id"])] = dict(row)
        for gone in updates["daily"].deleted:
            del self.daily[(gone["day"], gone["customer_id"], gone["title_id"])]
        return updates

    def only_session(self) -> dict[str, Any]:
        assert len(self.sessions) == 1, self.sessions
        return next(iter(self.sessions.values()))


def test_watch_time_counts_playing_time_and_at_most_a_minute_per_gap() -> None:
    mesh = Mesh()
    mesh.feed(ev(0, "PLAY"), ev(0.5), ev(1), ev(1.5, "PAUSE"), ev(6.5, "PLAY"), ev(7), ev(12, "STOP"))
    session = mesh.only_session()
    # 0→0.5→1→1.5 playing (90 s), paused 1.5→6.5 (not counted), 6.5→7 (30 s), 7→12 capped at 60 s
    assert session["watch_seconds"] == 180.0
    assert session["events"] == 7 and session["status"] == "open"
    assert session["title_name"] == "Night Train" and session["home_country"] == "NL"
    assert session["viewing_country"] == "BE"


def test_a_silence_longer_than_the_gap_starts_a_new_session() -> None:
    mesh = Mesh()
    mesh.feed(ev(0, "PLAY"), ev(1), ev(40, "PLAY"), ev(41))
    assert sorted(s["events"] for s in mesh.sessions.values()) == [2, 2]
    daily = mesh.daily[(date(2026, 11, 20), 1, 7)]
    assert daily["sessions"] == 2 and daily["watch_seconds"] == 120.0


def test_a_late_event_within_the_watermark_joins_and_can_merge_two_sessions() -> None:
    mesh = Mesh()
    mesh.feed(ev(0, "PLAY"), ev(20), ev(55, "PLAY"), ev(58))
    assert len(mesh.sessions) == 2
    updates = mesh.feed(ev(50, "HEARTBEAT"))  # late, but newer than the watermark (58 - 10 min): bridges both
    session = mesh.only_session()
    assert session["events"] == 5
    assert len(updates["sessions"].deleted) == 1
    assert mesh.daily[(date(2026, 11, 20), 1, 7)]["sessions"] == 1


def test_an_event_older_than_the_watermark_is_dropped_and_counted() -> None:
    mesh = Mesh()
    mesh.feed(ev(0, "PLAY"), ev(30))
    mesh.feed(ev(5, customer=2))  # 25 minutes behind the newest event
    assert mesh.derivation.describe()["late_events_dropped"] == 1
    assert all(s["customer_id"] == 1 for s in mesh.sessions.values())


def test_an_event_id_seen_twice_counts_once() -> None:
    mesh = Mesh()
    first = ev(0, "PLAY", event_id="same")
    mesh.feed(first, ev(0.5))
    mesh.feed(first)
    assert mesh.only_session()["events"] == 2
    assert mesh.derivation.describe()["duplicate_events_dropped"] == 1


def test_sessions_close_once_the_watermark_passes_their_end_plus_the_gap() -> None:
    mesh = Mesh()
    mesh.feed(ev(0, "PLAY"), ev(1))
    mesh.feed(ev(30, customer=2))
    assert mesh.sessions and all(s["status"] == "open" for s in mesh.sessions.values())
    mesh.feed(ev(42, customer=2))  # watermark 32 > 1 + 30
    closed = [s for s in mesh.sessions.values() if s["customer_id"] == 1]
    assert closed[0]["status"] == "closed"


def test_completion_uses_the_titles_duration() -> None:
    mesh = Mesh()
    mesh.feed(ev(0, "PLAY", position_s=0), ev(1, position_s=560), ev(2, "STOP", position_s=590))
    session = mesh.only_session()
    assert session["completion"] == pytest.approx(590 / 600) and session["completed"] is True
    assert mesh.daily[(date(2026, 11, 20), 1, 7)]["completed_sessions"] == 1


def test_an_unknown_title_leaves_name_and_completion_empty() -> None:
    mesh = Mesh()
    mesh.feed(ev(0, "PLAY", title=99), ev(1, title=99))
    session = mesh.only_session()
    assert session["title_name"] is None and session["completion"] is None and session["completed"] is False


def test_after_a_restart_the_state_the_platform_kept_continues_the_open_sessions() -> None:
    """A new process builds the derivation with the state saved after the last complete refresh
    (mesh_sdk.derive.state): its open sessions go on, and an event it already counted is a duplicate."""
    history = [ev(0, "PLAY"), ev(0.5), ev(1)]
    before = Mesh()
    before.feed(*history)
    states = DerivationStates(MemoryArtifacts())
    saved = states.save(1, before.state)
    assert saved is not None
    after = Mesh(states.load(saved))
    after.sessions = dict(before.sessions)
    after.feed(ev(1.5), history[1])  # one new event, one replayed duplicate
    session = after.only_session()
    assert session["events"] == 4 and session["watch_seconds"] == 90.0
    assert after.derivation.describe()["duplicate_events_dropped"] == 1


def test_a_day_keeps_its_totals_while_its_state_shrinks_to_what_can_still_change() -> None:
    """A closed session is folded into its day, and a day no event can reach any more is dropped from
    the state; the daily rows already written are the same as if every session were kept."""
    mesh = Mesh()
    mesh.feed(ev(0, "PLAY"), ev(1), ev(2, customer=2), ev(3, customer=2))
    mesh.feed(ev(50, customer=2), ev(51, customer=2))  # watermark 41 > 3 + 30: both first sessions close
    daily = mesh.derivation.daily
    assert daily.day_of.keys() == {s["session_id"] for s in mesh.sessions.values() if s["status"] == "open"}
    two = mesh.daily[(date(2026, 11, 20), 2, 7)]
    assert two["sessions"] == 2 and two["watch_seconds"] == 120.0  # one closed session, one open
    mesh.feed(ev(60 * 27, customer=2))  # the next day: the watermark leaves 20 November behind
    mesh.feed(ev(60 * 27 + 45, customer=2))  # and closes the last session of that day
    kept = {key[0] for key in (*daily.closed, *daily.sessions)}
    assert kept == {date(2026, 11, 22)}  # 20 November is written and can change no more
    one, two = mesh.daily[(date(2026, 11, 20), 1, 7)], mesh.daily[(date(2026, 11, 20), 2, 7)]
    assert (one["sessions"], one["watch_seconds"]) == (1, 60.0)
    assert (two["sessions"], two["watch_seconds"]) == (2, 120.0)
