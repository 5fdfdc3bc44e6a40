"""The content team's domain, without a database: what a title is, the rules it obeys, how a change
becomes an outbox event, and the starting catalogue.

The catalogue agrees with `mesh_generate.playback_sessions.Catalogue`: title ids, kinds and durations
are the ones the playback telemetry reports, so the mesh can join viewing to titles."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from mesh_generate.playback_sessions import EPISODE_MINUTES, FILM_MINUTES, FILM_SHARE, WORLD_SEED, Catalogue

GENRES = (
    "action",
    "animation",
    "comedy",
    "crime",
    "documentary",
    "drama",
    "family",
    "fantasy",
    "horror",
    "romance",
    "sci-fi",
    "thriller",
)
MATURITY: dict[str, dict[str, float]] = {  # ratings by kind: cinema ratings for films, TV ratings for episodes
    "film": {"G": 0.10, "PG": 0.20, "PG-13": 0.35, "R": 0.30, "NC-17": 0.05},
    "episode": {"TV-Y": 0.05, "TV-G": 0.10, "TV-PG": 0.25, "TV-14": 0.35, "TV-MA": 0.25},
}
KINDS = ("film", "episode")
LATEST_RELEASE_YEAR = 2025  # fixed, so a seed gives the same catalogue in any year
EARLIEST_RELEASE_YEAR = 1930
MAX_GENRES = 3

# Columns of the `titles` table, in order: an event's payload has exactly these keys.
TITLE_COLUMNS = (
    "title_id",
    "name",
    "kind",
    "genres",
    "release_year",
    "duration_s",
    "maturity",
    "available",
    "updated_at",
)
OUTBOX_COLUMNS = ("id", "aggregatetype", "aggregateid", "type", "payload")
AGGREGATE_TYPE = "title"
TITLE_CREATED, TITLE_UPDATED, TITLE_RETIRED = "TitleCreated", "TitleUpdated", "TitleRetired"
EVENT_TYPES = (TITLE_CREATED, TITLE_UPDATED, TITLE_RETIRED)

_ADJECTIVES = (
    "Silent", "Broken", "Golden", "Last", "Hidden", "Crimson", "Distant", "Frozen", "Wild", "Electric",
    "Midnight", "Northern", "Lost", "Burning", "Quiet", "Endless", "Paper", "Iron", "Velvet", "Hollow",
)  # fmt: skip
_NOUNS = (
    "Harbor", "Signal", "Garden", "Frontier", "Kingdom", "River", "Machine", "Summer", "Witness", "Orchard",
    "Empire", "Lighthouse", "Station", "Canyon", "Promise", "Archive", "Tide", "Circus", "Island", "Horizon",
)  # fmt: skip


class TitleRuleViolation(ValueError):
    """A title state the content team's rules forbid; nothing is written."""


class TitleNotFound(LookupError):
    def __init__(self, title_id: int) -> None:
        super().__init__(f"no title {title_id}")
        self.title_id = title_id


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class TitleState:
    """One row of `titles`: the full state every event carries."""

    title_id: int
    name: str
    kind: str
    genres: tuple[str, ...]
    release_year: int
    duration_s: int
    maturity: str
    available: bool
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> TitleState:
        """From a `SELECT <TITLE_COLUMNS> FROM titles` row (timestamps normalised to UTC)."""
        values = dict(zip(TITLE_COLUMNS, row, strict=True))
        if not isinstance(values["updated_at"], dt.datetime) or not isinstance(values["genres"], list | tuple):
            raise TypeError(f"not a titles row: {row!r}")
        return cls(
            title_id=int(values["title_id"]),
            name=str(values["name"]),
            kind=str(values["kind"]),
            genres=tuple(str(g) for g in values["genres"]),
            release_year=int(values["release_year"]),
            duration_s=int(values["duration_s"]),
            maturity=str(values["maturity"]),
            available=bool(values["available"]),
            updated_at=values["updated_at"].astimezone(dt.UTC),
        )

    def row(self) -> tuple[object, ...]:
        """Values in `TITLE_COLUMNS` order, for INSERT and COPY (genres as a list: a text[])."""
        return tuple(list(v) if isinstance(v, tuple) else v for v in dataclasses.astuple(self))

    def payload(self) -> dict[str, object]:
        """The JSON-ready state: keys exactly `TITLE_COLUMNS`, `updated_at` as ISO-8601 in UTC."""
        return {
            "title_id": self.title_id,
            "name": self.name,
            "kind": self.kind,
            "genres": list(self.genres),
            "release_year": self.release_year,
            "duration_s": self.duration_s,
            "maturity": self.maturity,
            "available": self.available,
            "updated_at": self.updated_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        }


def check_title(state: TitleState) -> None:
    """The content team's rules for a title; raise `TitleRuleViolation` naming the broken one."""
    problems = []
    if not state.name.strip():
        problems.append("the name is empty")
    if state.kind not in KINDS:
        problems.append(f"kind {state.kind!r} is not one of {KINDS}")
    elif state.maturity not in MATURITY[state.kind]:
        problems.append(f"maturity {state.maturity!r} is not a rating for a {state.kind}: {list(MATURITY[state.kind])}")
    if not 1 <= len(state.genres) <= MAX_GENRES or len(set(state.genres)) != len(state.genres):
        problems.append(f"a title has 1 to {MAX_GENRES} distinct genres, not {list(state.genres)}")
    unknown = sorted(set(state.genres) - set(GENRES))
    if unknown:
        problems.append(f"unknown genres {unknown}")
    if not EARLIEST_RELEASE_YEAR <= state.release_year <= LATEST_RELEASE_YEAR + 2:
        problems.append(f"release year {state.release_year} is implausible")
    if state.duration_s <= 0:
        problems.append(f"duration {state.duration_s} s is not positive")
    if problems:
        raise TitleRuleViolation(f"title {state.title_id}: " + "; ".join(problems))


@dataclass(frozen=True)
class TitleEvent:
    """One outbox row: an event about a title, carrying its full new state."""

    aggregatetype: ClassVar[str] = AGGREGATE_TYPE
    event_id: uuid.UUID
    type: str
    state: TitleState

    @property
    def aggregateid(self) -> str:
        return str(self.state.title_id)

    @property
    def payload(self) -> str:
        return json.dumps(self.state.payload())

    def outbox_row(self) -> tuple[object, ...]:
        """Values in `OUTBOX_COLUMNS` order."""
        return (self.event_id, self.aggregatetype, self.aggregateid, self.type, self.payload)


@dataclass(frozen=True)
class TitleDraft:
    """A title about to be added: everything but the id (the database gives it) and the timestamp."""

    name: str
    kind: str
    genres: tuple[str, ...]
    release_year: int
    duration_s: int
    maturity: str
    available: bool = True

    def with_id(self, title_id: int, now: dt.datetime) -> TitleState:
        return TitleState(
            title_id,
            self.name,
            self.kind,
            tuple(self.genres),
            self.release_year,
            self.duration_s,
            self.maturity,
            self.available,
            now,
        )


@dataclass(frozen=True)
class TitleChanges:
    """An edit of a title: None leaves a field as it is."""

    name: str | None = None
    genres: tuple[str, ...] | None = None
    maturity: str | None = None
    available: bool | None = None

    def apply(self, state: TitleState, now: dt.datetime) -> TitleState:
        changed = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        if "genres" in changed:
            changed["genres"] = tuple(changed["genres"])
        return dataclasses.replace(state, updated_at=now, **changed)


def event_type(old: TitleState | None, new: TitleState) -> str:
    """TitleCreated for a new title, TitleRetired when a change makes it unavailable, else TitleUpdated."""
    if old is None:
        return TITLE_CREATED
    if old.available and not new.available:
        return TITLE_RETIRED
    return TITLE_UPDATED


def title_name(rng: random.Random, kind: str) -> str:
    """`The Silent Harbor` for a film; `Midnight Signal S02E05` for an episode of a series."""
    base = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    if kind == "film":
        return f"The {base}" if rng.random() < 0.4 else base
    return f"{base} S{rng.randint(1, 6):02d}E{rng.randint(1, 12):02d}"


def draw_genres(rng: random.Random) -> tuple[str, ...]:
    return tuple(rng.sample(GENRES, k=rng.choices((1, 2, 3), weights=(0.4, 0.4, 0.2))[0]))


def draw_maturity(rng: random.Random, kind: str) -> str:
    ratings = MATURITY[kind]
    return rng.choices(list(ratings), weights=list(ratings.values()))[0]


def draw_release_year(rng: random.Random, kind: str) -> int:
    """Mostly recent: a catalogue is heavy on the last decade, episodes more so than films."""
    mean_age = 12 if kind == "film" else 6
    return max(EARLIEST_RELEASE_YEAR, LATEST_RELEASE_YEAR - int(rng.expovariate(1 / mean_age)))


def draw_title(rng: random.Random) -> TitleDraft:
    """A new title as the content team would add it: a film or an episode, durations as the catalogue's."""
    kind = "film" if rng.random() < FILM_SHARE else "episode"
    low, high = FILM_MINUTES if kind == "film" else EPISODE_MINUTES
    return TitleDraft(
        name=title_name(rng, kind),
        kind=kind,
        genres=draw_genres(rng),
        release_year=draw_release_year(rng, kind),
        duration_s=rng.randint(low * 60, high * 60),
        maturity=draw_maturity(rng, kind),
    )


def seed_titles(count: int, now: dt.datetime, seed: int = WORLD_SEED) -> list[TitleState]:
    """Titles 1..`count` of `Catalogue.generate(count, seed)`, same kinds and durations (in seconds),
    with a name, genres, release year and rating drawn from the seed; all available."""
    catalogue = Catalogue.generate(count, seed)
    rng = random.Random(f"content:{seed}")
    states = []
    for title in catalogue.titles:
        states.append(
            TitleState(
                title_id=title.title_id,
                name=title_name(rng, title.kind),
                kind=title.kind,
                genres=draw_genres(rng),
                release_year=draw_release_year(rng, title.kind),
                duration_s=title.duration_ms // 1000,
                maturity=draw_maturity(rng, title.kind),
                available=True,
                updated_at=now,
            )
        )
    return states
