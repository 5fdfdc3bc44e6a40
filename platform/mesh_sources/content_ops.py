"""What the content team does all day, decided without a database: add titles now and then, edit
many (genres re-tagged, names corrected, ratings revised, retired titles brought back), retire a few.

Pure: one seeded RNG and the planner's view of the titles; the `ContentService` carries actions out."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from mesh_sources.content_model import (
    TITLE_RETIRED,
    TitleChanges,
    TitleDraft,
    TitleEvent,
    draw_genres,
    draw_maturity,
    draw_title,
    title_name,
)
from mesh_sources.indexed import IndexedSet

OPERATION_WEIGHTS: dict[str, float] = {"add": 0.15, "update": 0.75, "retire": 0.10}
# What an update changes: availability means bringing a retired title back.
UPDATE_WEIGHTS: dict[str, float] = {"genres": 0.40, "name": 0.20, "maturity": 0.15, "availability": 0.25}
MAX_DRAWS = 50


@dataclass(frozen=True, slots=True)
class TitleSummary:
    """What the planner needs to know of a title to pick it and edit it plausibly."""

    title_id: int
    kind: str
    available: bool


@dataclass(frozen=True)
class AddTitle:
    operation: ClassVar[str] = "add"
    draft: TitleDraft


@dataclass(frozen=True)
class UpdateTitle:
    operation: ClassVar[str] = "update"
    title_id: int
    changes: TitleChanges


@dataclass(frozen=True)
class RetireTitle:
    operation: ClassVar[str] = "retire"
    title_id: int


ContentAction = AddTitle | UpdateTitle | RetireTitle


@dataclass
class EventCounts:
    """Committed transactions and the outbox events they wrote, by event type (one each)."""

    transactions: int = 0
    events: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # actions that no longer applied, rolled back without a change

    def add(self, event: TitleEvent) -> None:
        self.transactions += 1
        self.events[event.type] += 1


class ContentPlanner:
    """Draws the content team's next action; `record` keeps its view of the titles current, and
    `stale` turns true when an action did not apply (refresh the view)."""

    def __init__(
        self, titles: Iterable[TitleSummary], *, seed: int, weights: Mapping[str, float] = OPERATION_WEIGHTS
    ) -> None:
        unknown = set(weights) - set(OPERATION_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown operations: {sorted(unknown)}")
        self._rng = random.Random(seed)
        self._operations = [op for op, weight in weights.items() if weight > 0]
        self._weights = [weights[op] for op in self._operations]
        self.stale = False
        self.refresh(titles)

    def refresh(self, titles: Iterable[TitleSummary]) -> None:
        self.kinds: dict[int, str] = {}
        self.available = IndexedSet()
        self.retired = IndexedSet()
        for title in titles:
            self._put(title.title_id, title.kind, title.available)
        self.stale = False

    def _put(self, title_id: int, kind: str, available: bool) -> None:
        self.kinds[title_id] = kind
        (self.available if available else self.retired).add(title_id)
        (self.retired if available else self.available).discard(title_id)

    def next_action(self) -> ContentAction:
        for _ in range(MAX_DRAWS):
            operation = self._rng.choices(self._operations, weights=self._weights)[0]
            action = self._propose(operation)
            if action is not None:
                return action
        return AddTitle(draw_title(self._rng))

    def _propose(self, operation: str) -> ContentAction | None:
        rng = self._rng
        if operation == "add":
            return AddTitle(draw_title(rng))
        if operation == "retire":
            return RetireTitle(self.available.choice(rng)) if self.available else None
        change = rng.choices(list(UPDATE_WEIGHTS), weights=list(UPDATE_WEIGHTS.values()))[0]
        if change == "availability":
            return UpdateTitle(self.retired.choice(rng), TitleChanges(available=True)) if self.retired else None
        if not self.kinds:
            return None
        pool = self.available if self.available and rng.random() < 0.9 else self.retired
        if not pool:
            pool = self.available
        title_id = pool.choice(rng)
        kind = self.kinds[title_id]
        if change == "genres":
            return UpdateTitle(title_id, TitleChanges(genres=draw_genres(rng)))
        if change == "name":
            return UpdateTitle(title_id, TitleChanges(name=title_name(rng, kind)))
        return UpdateTitle(title_id, TitleChanges(maturity=draw_maturity(rng, kind)))

    def record(self, action: ContentAction, event: TitleEvent | None) -> None:
        if event is None:
            self.stale = True
            return
        state = event.state
        self._put(state.title_id, state.kind, state.available)
        if isinstance(action, RetireTitle) and event.type != TITLE_RETIRED:
            raise ValueError(f"a retirement must emit {TITLE_RETIRED}, not {event.type}")
