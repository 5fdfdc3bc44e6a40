"""engagement.viewing: the domain logic. Playback events become viewing sessions, and sessions add
up to daily watch time per customer and title.

A viewing session is the events of one customer watching one title with no silence longer than
`GAP`. Events arrive out of order: the watermark trails the newest event seen by `LATENESS`; an event
older than the watermark is dropped as too late, and a session whose end plus `GAP` has fallen behind
the watermark can no longer grow, so it is closed. A late event can bridge two sessions; they merge
into the earlier one. An event id seen twice counts once."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mesh_sdk import Context, Inputs, Update

GAP = timedelta(minutes=30)
LATENESS = timedelta(minutes=10)
MAX_GAP_COUNTED = timedelta(minutes=1)  # playing time between two events counts at most this much
COMPLETE = 0.9  # share of a title that makes a session "completed"
PLAYING = frozenset({"PLAY", "HEARTBEAT", "SEEK"})  # after these, the player is playing
SESSION_IDS = uuid.UUID("6f1c2a52-7f0e-4d8e-9a43-5d0f0f3f6a11")

Key = tuple[int, int]  # customer_id, title_id


@dataclass(frozen=True, order=True)
class Event:
    at: datetime
    kind: str
    position_ms: int
    event_id: str
    device: str
    country: str


@dataclass
class Session:
    session_id: str
    customer_id: int
    title_id: int
    events: list[Event] = field(default_factory=list)
    closed: bool = False

    @property
    def started_at(self) -> datetime:
        return self.events[0].at

    @property
    def ended_at(self) -> datetime:
        return self.events[-1].at

    def reaches(self, at: datetime) -> bool:
        return self.started_at - GAP <= at <= self.ended_at + GAP

    def watch_seconds(self) -> float:
        played = timedelta()
        for before, after in zip(self.events, self.events[1:], strict=False):
            if before.kind in PLAYING:
                played += min(after.at - before.at, MAX_GAP_COUNTED)
        return played.total_seconds()

    def furthest_position_s(self) -> float:
        return max(e.position_ms for e in self.events) / 1000


@dataclass(frozen=True)
class Title:
    name: str | None
    primary_genre: str | None
    duration_s: float | None


class Sessionizer:
    """Open sessions by customer and title, the watermark, and what was dropped."""

    def __init__(self) -> None:
        self.open: dict[Key, list[Session]] = {}
        self.newest: datetime | None = None
        self.too_late = 0
        self.duplicates = 0

    @property
    def watermark(self) -> datetime | None:
        return self.newest - LATENESS if self.newest is not None else None

    def add(self, customer_id: int, title_id: int, event: Event) -> tuple[Session | None, list[Session]]:
        """File one event; returns the session it joined (None when dropped) and sessions merged away."""
        watermark = self.watermark
        if watermark is not None and event.at < watermark:
            self.too_late += 1
            return None, []
        sessions = self.open.setdefault((customer_id, title_id), [])
        reached = [s for s in sessions if s.reaches(event.at)]
        if any(event.event_id == e.event_id for s in reached for e in s.events):
            self.duplicates += 1
            return None, []
        if not reached:
            session_id = str(uuid.uuid5(SESSION_IDS, f"{customer_id}:{title_id}:{event.event_id}"))
            reached = [Session(session_id, customer_id, title_id)]
            sessions.append(reached[0])
        keep, *merged = sorted(reached, key=lambda s: s.started_at if s.events else event.at)
        for other in merged:
            keep.events.extend(other.events)
            sessions.remove(other)
        keep.events.append(event)
        keep.events.sort()
        if self.newest is None or event.at > self.newest:
            self.newest = event.at
        return keep, merged

    def close_expired(self) -> list[Session]:
        """Sessions no accepted event can reach any more."""
        watermark = self.watermark
        if watermark is None:
            return []
        closed = []
        for key, sessions in list(self.open.items()):
            for session in [s for s in sessions if s.ended_at + GAP < watermark]:
                session.closed = True
                sessions.remove(session)
                closed.append(session)
            if not sessions:
                del self.open[key]
        return closed


DayKey = tuple[date, int, int]


class DailyTotals:
    """Each open session's contribution to the day it started, so a changed session replaces its own;
    a closed session can change no more and is folded into its day's sum, and a day that no event can
    reach any more is forgotten (its row stays in the table): what is kept follows the open sessions,
    not the whole history."""

    def __init__(self) -> None:
        self.sessions: dict[DayKey, dict[str, tuple[float, bool]]] = {}
        self.day_of: dict[str, DayKey] = {}
        self.closed: dict[DayKey, tuple[int, int, float]] = {}  # sessions, completed, watch seconds

    def put(self, row: Mapping[str, Any]) -> set[DayKey]:
        touched = self.remove(row["session_id"])
        key = (row["day"], row["customer_id"], row["title_id"])
        self.sessions.setdefault(key, {})[row["session_id"]] = (row["watch_seconds"], row["completed"])
        self.day_of[row["session_id"]] = key
        return touched | {key}

    def remove(self, session_id: str) -> set[DayKey]:
        key = self.day_of.pop(session_id, None)
        if key is None:
            return set()
        del self.sessions[key][session_id]
        return {key}

    def close(self, session_id: str) -> None:
        key = self.day_of.pop(session_id, None)
        if key is None:
            return
        seconds, completed = self.sessions[key].pop(session_id)
        count, done, total = self.closed.get(key, (0, 0, 0.0))
        self.closed[key] = (count + 1, done + completed, total + seconds)

    def forget_before(self, day: date) -> None:
        """Days before `day` with no open session: no accepted event can change them."""
        for key in [k for k in self.closed if k[0] < day and not self.sessions.get(k)]:
            del self.closed[key]
            self.sessions.pop(key, None)

    def row(self, key: DayKey) -> dict[str, Any] | None:
        sessions = self.sessions.get(key) or {}
        count, done, total = self.closed.get(key, (0, 0, 0.0))
        if not sessions and not count:
            self.sessions.pop(key, None)
            return None
        return {
            "day": key[0],
            "customer_id": key[1],
            "title_id": key[2],
            "sessions": count + len(sessions),
            "completed_sessions": done + sum(1 for _, completed in sessions.values() if completed),
            "watch_seconds": round(total + sum(seconds for seconds, _ in sessions.values()), 3),
        }


def _events(rows: Iterable[Mapping[str, Any]]) -> Iterable[tuple[int, int, Event]]:
    for r in sorted(rows, key=lambda r: r["occurred_at"]):
        event = Event(r["occurred_at"], r["event_type"], r["position_ms"], r["event_id"], r["device"], r["country"])
        yield r["customer_id"], r["title_id"], event


class Derivation:
    def __init__(self, context: Context) -> None:
        # Open sessions and each session's share of its day: kept by the platform between refreshes
        # and across restarts, as the last complete refresh left them.
        self.sessionizer: Sessionizer = context.state.setdefault("sessionizer", Sessionizer())
        self.daily: DailyTotals = context.state.setdefault("daily", DailyTotals())
        self.titles: dict[int, Title] = {}
        self.home: dict[int, str] = {}
        self._lookups: dict[str, int | None] = {}

    # --- joins with the other products' ports --------------------------------------------------------

    def _join(self, inputs: Inputs) -> None:
        if self._lookups.get("titles", -1) != inputs.snapshots["titles"]:
            self.titles = {
                r["title_id"]: Title(r["name"], r["primary_genre"], r["duration_s"])
                for r in inputs.table("titles").select(["title_id", "name", "primary_genre", "duration_s"]).to_pylist()
            }
        if self._lookups.get("customers", -1) != inputs.snapshots["customers"]:
            customers = inputs.table("customers").select(["customer_id", "country"])
            self.home = dict(zip(customers["customer_id"].to_pylist(), customers["country"].to_pylist(), strict=True))
        self._lookups = {"titles": inputs.snapshots["titles"], "customers": inputs.snapshots["customers"]}

    def session_row(self, session: Session, now: datetime) -> dict[str, Any]:
        title = self.titles.get(session.title_id, Title(None, None, None))
        furthest = session.furthest_position_s()
        completion = min(1.0, furthest / title.duration_s) if title.duration_s else None
        first = session.events[0]
        return {
            "session_id": session.session_id,
            "customer_id": session.customer_id,
            "title_id": session.title_id,
            "title_name": title.name,
            "primary_genre": title.primary_genre,
            "device": first.device,
            "viewing_country": first.country,
            "home_country": self.home.get(session.customer_id),
            "day": session.started_at.astimezone(UTC).date(),
            "started_at": session.started_at,
            "ended_at": session.ended_at,
            "events": len(session.events),
            "watch_seconds": session.watch_seconds(),
            "furthest_position_s": furthest,
            "completion": completion,
            "completed": completion is not None and completion >= COMPLETE,
            "status": "closed" if session.closed else "open",
            "updated_at": now,
        }

    def _daily_rows(self, keys: set[DayKey], now: datetime) -> Update:
        rows, gone = [], []
        for key in sorted(keys):
            row = self.daily.row(key)
            if row is None:
                gone.append({"day": key[0], "customer_id": key[1], "title_id": key[2]})
                continue
            title = self.titles.get(key[2], Title(None, None, None))
            rows.append(row | {"title_name": title.name, "primary_genre": title.primary_genre, "updated_at": now})
        return Update.upsert(rows, gone)

    # --- the platform's calls ------------------------------------------------------------------------

    def refresh(self, inputs: Inputs) -> dict[str, Update]:
        self._join(inputs)
        touched: dict[str, Session] = {}
        merged_away: set[str] = set()
        for customer_id, title_id, event in _events(inputs.new("playback").to_pylist()):
            session, merged = self.sessionizer.add(customer_id, title_id, event)
            if session is not None:
                touched[session.session_id] = session
            for other in merged:
                merged_away.add(other.session_id)
                touched.pop(other.session_id, None)
        closed = self.sessionizer.close_expired()
        for session in closed:
            touched[session.session_id] = session
        rows = [self.session_row(s, inputs.now) for s in touched.values()]
        days: set[DayKey] = set()
        for row in rows:
            days |= self.daily.put(row)
        for session_id in merged_away:
            days |= self.daily.remove(session_id)
        daily = self._daily_rows(days, inputs.now)
        for session in closed:
            self.daily.close(session.session_id)
        if self.sessionizer.watermark is not None:
            self.daily.forget_before(self.sessionizer.watermark.astimezone(UTC).date())
        return {
            "sessions": Update.upsert(rows, [{"session_id": s} for s in sorted(merged_away)]),
            "daily": daily,
        }

    def describe(self) -> dict[str, Any]:
        s = self.sessionizer
        return {
            "watermark": s.watermark.isoformat() if s.watermark else None,
            # The refresh thread changes `open` meanwhile: count a copy taken in one step.
            "open_sessions": sum(len(v) for v in list(s.open.values())),
            "late_events_dropped": s.too_late,
            "duplicate_events_dropped": s.duplicates,
            "session_gap_minutes": GAP.total_seconds() / 60,
            "allowed_lateness_minutes": LATENESS.total_seconds() / 60,
        }
