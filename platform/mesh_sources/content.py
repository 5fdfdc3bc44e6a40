"""The content team's operational database and application: titles, written together with an outbox
event in one transaction (the transactional outbox pattern), and a workload of the team's edits.

Debezium's outbox event router reads the outbox rows from the WAL. By default each row is deleted in
the transaction that inserts it, as Debezium recommends: the table stays empty, and the INSERT is
still in the WAL for the connector, whose slot must exist before the events are written."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Protocol

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from mesh_generate.playback_sessions import WORLD_SEED
from mesh_sources import db
from mesh_sources.content_model import (
    OUTBOX_COLUMNS,
    TITLE_COLUMNS,
    TITLE_CREATED,
    TitleChanges,
    TitleDraft,
    TitleEvent,
    TitleNotFound,
    TitleRuleViolation,
    TitleState,
    check_title,
    event_type,
    seed_titles,
    utc_now,
)
from mesh_sources.content_ops import (
    AddTitle,
    ContentAction,
    ContentPlanner,
    EventCounts,
    RetireTitle,
    TitleSummary,
    UpdateTitle,
)
from mesh_sources.db import Closing, SeedReport, copy_rows

__all__ = ["ContentService", "ContentWorkload", "EventCounts", "SeedReport", "install_content"]

SCHEMA_FILE = "content.sql"
TITLE_SEQUENCE = "titles_title_id_seq"
REFRESH_EVERY = 1_000
MAX_ATTEMPTS = 100
_SEED_LOCK = 0x636F6E74  # advisory lock: two installs at once seed once

_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, TITLE_COLUMNS))
_SELECT_FOR_UPDATE = sql.SQL("SELECT {} FROM titles WHERE title_id = %s FOR UPDATE").format(_COLUMNS)
_UPDATE = sql.SQL("UPDATE titles SET ({}) = ({}) WHERE title_id = %s").format(
    sql.SQL(", ").join(map(sql.Identifier, TITLE_COLUMNS[1:])),
    sql.SQL(", ").join(sql.Placeholder() * (len(TITLE_COLUMNS) - 1)),
)
_INSERT = sql.SQL("INSERT INTO titles ({}) VALUES ({})").format(
    _COLUMNS, sql.SQL(", ").join(sql.Placeholder() * len(TITLE_COLUMNS))
)
_INSERT_EVENT = sql.SQL("INSERT INTO outbox ({}) VALUES (%s, %s, %s, %s, %s)").format(
    sql.SQL(", ").join(map(sql.Identifier, OUTBOX_COLUMNS))
)


def install_content(dsn: str, titles: int = 500, seed: int = WORLD_SEED, *, delete_outbox: bool = True) -> SeedReport:
    """Apply content.sql, then seed titles 1..`titles` (see `content_model.seed_titles`) with one
    TitleCreated outbox event each, in one transaction, unless `titles` already has rows.

    The events are deleted again in that transaction unless `delete_outbox` is False (see the module
    docstring): create the outbox connector's slot first, or its stream misses the seed."""
    if titles < 1:
        raise ValueError(f"at least one title is needed, not {titles}")
    with db.connect(dsn) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK,))
        db.apply_schema(conn, SCHEMA_FILE)
        already = conn.execute("SELECT EXISTS (SELECT 1 FROM titles)").fetchone()
        report = SeedReport(seeded=False)
        if not (already and already[0]):
            states = seed_titles(titles, utc_now(), seed)
            events = [TitleEvent(uuid.uuid4(), TITLE_CREATED, state) for state in states]
            copy_rows(conn, "titles", TITLE_COLUMNS, [state.row() for state in states])
            copy_rows(conn, "outbox", OUTBOX_COLUMNS, [event.outbox_row() for event in events])
            if delete_outbox:
                conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", ([event.event_id for event in events],))
            report = SeedReport(seeded=True, rows={"titles": len(states), "outbox events": len(events)})
        db.ensure_id_sequence(conn, TITLE_SEQUENCE, "titles", "title_id")
    return report


class ContentService(Closing):
    """The content team's application logic. Every change is one transaction that writes the title
    AND its outbox event (full new state as JSON), or, if anything fails, neither."""

    def __init__(
        self,
        conn: psycopg.Connection[TupleRow],
        *,
        delete_outbox: bool = True,
        clock: Callable[[], dt.datetime] = utc_now,
        new_event_id: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        if not conn.autocommit:
            raise ValueError("ContentService needs an autocommit connection: it opens one transaction per change")
        self._conn = conn
        self.delete_outbox = delete_outbox
        self._clock = clock
        self._new_event_id = new_event_id

    @classmethod
    def open(cls, dsn: str, *, delete_outbox: bool = True) -> ContentService:
        """A service on the installed database at `dsn` (see `install_content`)."""
        return cls(db.connect(dsn, autocommit=True), delete_outbox=delete_outbox)

    def close(self) -> None:
        self._conn.close()

    def titles(self) -> list[TitleSummary]:
        rows = self._conn.execute("SELECT title_id, kind, available FROM titles ORDER BY title_id")
        return [TitleSummary(*row) for row in rows]

    def get_title(self, title_id: int) -> TitleState:
        row = self._conn.execute(sql.SQL("SELECT {} FROM titles WHERE title_id = %s").format(_COLUMNS), (title_id,))
        found = row.fetchone()
        if found is None:
            raise TitleNotFound(title_id)
        return TitleState.from_row(found)

    def add_title(self, draft: TitleDraft) -> TitleEvent:
        """Insert a title with the next id; emits TitleCreated."""
        with self._conn.transaction():
            row = self._conn.execute("SELECT nextval(%s)", (TITLE_SEQUENCE,)).fetchone()
            assert row is not None
            state = draft.with_id(int(row[0]), self._clock())
            check_title(state)
            self._conn.execute(_INSERT, state.row())
            return self._publish(None, state)

    def update_title(self, title_id: int, changes: TitleChanges) -> TitleEvent:
        """Change some fields; emits TitleUpdated, or TitleRetired if the change makes it unavailable."""
        with self._conn.transaction():
            old = self._lock(title_id)
            new = changes.apply(old, self._clock())
            check_title(new)
            self._conn.execute(_UPDATE, (*new.row()[1:], title_id))
            return self._publish(old, new)

    def retire_title(self, title_id: int) -> TitleEvent:
        """Take a title off the service (available = false); emits TitleRetired."""
        with self._conn.transaction():
            old = self._lock(title_id)
            if not old.available:
                raise TitleRuleViolation(f"title {title_id} is already retired")
            new = TitleChanges(available=False).apply(old, self._clock())
            self._conn.execute(_UPDATE, (*new.row()[1:], title_id))
            return self._publish(old, new)

    def _lock(self, title_id: int) -> TitleState:
        row = self._conn.execute(_SELECT_FOR_UPDATE, (title_id,)).fetchone()
        if row is None:
            raise TitleNotFound(title_id)
        return TitleState.from_row(row)

    def _publish(self, old: TitleState | None, new: TitleState) -> TitleEvent:
        """The outbox write, inside the caller's transaction."""
        event = TitleEvent(self._new_event_id(), event_type(old, new), new)
        self._conn.execute(_INSERT_EVENT, event.outbox_row())
        if self.delete_outbox:
            self._conn.execute("DELETE FROM outbox WHERE id = %s", (event.event_id,))
        return event


class TitleWriter(Protocol):
    """What the workload needs of the content service (a fake one in unit tests)."""

    def titles(self) -> list[TitleSummary]: ...

    def add_title(self, draft: TitleDraft) -> TitleEvent: ...

    def update_title(self, title_id: int, changes: TitleChanges) -> TitleEvent: ...

    def retire_title(self, title_id: int) -> TitleEvent: ...

    def close(self) -> None: ...


class ContentWorkload(Closing):
    """The content team at work, one transaction (one outbox event) per `step()`, counted by event type.
    Edits only titles it believes exist; an action that no longer applies is rolled back and the view
    of the titles re-read."""

    def __init__(self, service: TitleWriter, *, seed: int, refresh_every: int = REFRESH_EVERY) -> None:
        self.service = service
        self.planner = ContentPlanner(service.titles(), seed=seed)
        self.counts = EventCounts()
        self.refresh_every = refresh_every
        self._since_refresh = 0

    @classmethod
    def connect(
        cls, dsn: str, *, seed: int, delete_outbox: bool = True, refresh_every: int = REFRESH_EVERY
    ) -> ContentWorkload:
        service = ContentService.open(dsn, delete_outbox=delete_outbox)
        try:
            return cls(service, seed=seed, refresh_every=refresh_every)
        except BaseException:
            service.close()
            raise

    def step(self) -> int:
        """Commit one change of the content team; return the number of outbox events written (1)."""
        for _ in range(MAX_ATTEMPTS):
            if self.planner.stale or self._since_refresh >= self.refresh_every:
                self.planner.refresh(self.service.titles())
                self._since_refresh = 0
            action = self.planner.next_action()
            event = self._execute(action)
            self.planner.record(action, event)
            if event is not None:
                self.counts.add(event)
                self._since_refresh += 1
                return 1
            self.counts.skipped += 1
        raise RuntimeError(f"{MAX_ATTEMPTS} actions in a row did not apply to the content database")

    def _execute(self, action: ContentAction) -> TitleEvent | None:
        try:
            match action:
                case AddTitle():
                    return self.service.add_title(action.draft)
                case UpdateTitle():
                    return self.service.update_title(action.title_id, action.changes)
                case RetireTitle():
                    return self.service.retire_title(action.title_id)
        except (TitleNotFound, TitleRuleViolation, psycopg.errors.TransactionRollback):
            return None  # rolled back: another writer changed the title since the planner looked
        raise TypeError(f"not a content action: {action!r}")

    def close(self) -> None:
        self.service.close()
