"""Viewers watching titles: a seeded simulation of the sessions the Streamline app reports.

Pure: no I/O and no wall clock. Time is simulated and starts where the caller says; every random
choice comes from one seeded generator, so a seed replays the same events.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, TypedDict

HEARTBEAT_INTERVAL_MS = 30_000

DEVICE_WEIGHTS: dict[str, float] = {"TV": 0.45, "MOBILE": 0.30, "WEB": 0.15, "TABLET": 0.10}
COUNTRY_WEIGHTS: dict[str, float] = {
    "US": 0.34,
    "GB": 0.14,
    "DE": 0.12,
    "FR": 0.10,
    "BR": 0.10,
    "IN": 0.08,
    "NL": 0.06,
    "JP": 0.06,
}
# Most viewers update their app; a long tail does not.
APP_VERSION_WEIGHTS: dict[str, float] = {"5.12.0": 0.55, "5.11.3": 0.28, "5.10.1": 0.13, "4.9.7": 0.04}

FILM_SHARE = 0.4
FILM_MINUTES = (80, 180)
EPISODE_MINUTES = (20, 60)

RESUME_SHARE = 0.3  # sessions that continue where an earlier one stopped
PAUSE_EVERY_MS = 20 * 60_000  # mean playback time between pauses
SEEK_EVERY_MS = 15 * 60_000  # mean playback time between seeks
PAUSE_MS = (5_000, 10 * 60_000)
NEXT_SESSION_GAP_MS = (1_000, 60_000)  # a finished session's viewer slot is taken again after this

# Mean simulated time between two events of one session, measured over long runs of this model
# (heartbeats dominate; pauses and the gap between sessions stretch it). It converts an event rate into
# the number of sessions that produce it with simulated time running at the pace of the wall clock.
MEAN_MS_BETWEEN_SESSION_EVENTS = 30_400

WORLD_SEED = 0  # catalogue and population are the same for every traffic seed

# Viewers have tastes: each customer leans to one of `TASTES` groups of titles (title_id modulo
# TASTES) and picks from it this often; otherwise anything, by popularity. Without tastes there would
# be nothing for a recommender to learn beyond popularity.
TASTES = 6
TASTE_SHARE = 0.75


class PlaybackRecord(TypedDict):
    """One `streamline.playback.PlaybackEvent` (schemas/playback/PlaybackEvent.avsc), ready for Avro."""

    event_id: str
    session_id: str
    customer_id: int
    title_id: int
    event_type: str
    position_ms: int
    occurred_at: int  # epoch milliseconds, UTC
    device: str
    country: str
    app_version: str


@dataclass(frozen=True, slots=True)
class Title:
    title_id: int
    kind: Literal["film", "episode"]
    duration_ms: int
    appeal: float  # probability that a session of this title is watched to the end


@dataclass(frozen=True)
class Catalogue:
    """Titles 1..n with durations and a popularity that falls with the id (a few titles are hits)."""

    titles: tuple[Title, ...]
    cumulative_popularity: tuple[float, ...]

    @classmethod
    def generate(cls, count: int, seed: int = WORLD_SEED) -> Catalogue:
        if count < 1:
            raise ValueError(f"a catalogue needs at least one title, not {count}")
        rng = random.Random(f"catalogue:{seed}")
        titles = []
        for title_id in range(1, count + 1):
            film = rng.random() < FILM_SHARE
            low, high = FILM_MINUTES if film else EPISODE_MINUTES
            titles.append(
                Title(
                    title_id=title_id,
                    kind="film" if film else "episode",
                    duration_ms=rng.randint(low * 60, high * 60) * 1000,
                    appeal=rng.uniform(0.35, 0.9),
                )
            )
        popularity = itertools.accumulate(1.0 / rank**0.8 for rank in range(1, count + 1))
        return cls(tuple(titles), tuple(popularity))

    def __getitem__(self, title_id: int) -> Title:
        return self.titles[title_id - 1]

    def __len__(self) -> int:
        return len(self.titles)

    def pick(self, rng: random.Random, taste: int | None = None) -> Title:
        """A title by popularity; for a viewer with a `taste`, most often one of that taste's group."""
        if taste is not None and rng.random() < TASTE_SHARE:
            group = self.titles[taste % TASTES :: TASTES] or self.titles
            weights = [1.0 / t.title_id**0.8 for t in group]
            return rng.choices(group, weights=weights)[0]
        return rng.choices(self.titles, cum_weights=self.cumulative_popularity)[0]


def taste_of(customer_id: int) -> int:
    """The group of titles a customer leans to (titles whose id modulo TASTES equals it, counting from 1)."""
    return (customer_id * 7919) % TASTES


@dataclass(frozen=True)
class Population:
    """Customers 1..n, each living in one country; some watch far more than others."""

    countries: tuple[str, ...]
    cumulative_activity: tuple[float, ...]

    @classmethod
    def generate(cls, count: int, seed: int = WORLD_SEED) -> Population:
        if count < 1:
            raise ValueError(f"a population needs at least one customer, not {count}")
        rng = random.Random(f"population:{seed}")
        countries = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()), k=count)
        activity = itertools.accumulate(rng.lognormvariate(0.0, 1.0) for _ in range(count))
        return cls(tuple(countries), tuple(activity))

    def __len__(self) -> int:
        return len(self.countries)

    def country_of(self, customer_id: int) -> str:
        return self.countries[customer_id - 1]

    def pick(self, rng: random.Random) -> int:
        customer_ids = range(1, len(self.countries) + 1)
        return rng.choices(customer_ids, cum_weights=self.cumulative_activity)[0]

    def activity_of(self, customer_id: int) -> float:
        """How much a customer watches, relative to the others (0 for one who never does)."""
        i = customer_id - 1
        return self.cumulative_activity[i] - (self.cumulative_activity[i - 1] if i else 0.0)

    def most_active(self, count: int) -> Population:
        """The same customers, but only the `count` who watch most ever watch (with the same activity
        and country): the regulars, whose history is long enough to show their taste."""
        if count < 1:
            raise ValueError(f"at least one viewer is needed, not {count}")
        activity = [self.activity_of(c) for c in range(1, len(self) + 1)]
        regulars = set(sorted(range(len(activity)), key=lambda i: -activity[i])[:count])
        kept = (a if i in regulars else 0.0 for i, a in enumerate(activity))
        return Population(self.countries, tuple(itertools.accumulate(kept)))


def sessions_for_rate(events_per_s: float) -> int:
    """How many concurrent sessions emit `events_per_s`, so simulated time keeps pace with the wall clock."""
    return max(1, round(events_per_s * MEAN_MS_BETWEEN_SESSION_EVENTS / 1000))


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _log_uniform(rng: random.Random, bounds: tuple[int, int]) -> int:
    return round(math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1]))))


class PlaybackSimulator:
    """An endless, time-ordered stream of valid playback events from `concurrent_sessions` sessions.

    A session plays one title: PLAY, a HEARTBEAT every 30 s of playback, now and then a PAUSE (followed
    by a PLAY) or a SEEK, and a STOP either near the end (a full watch, with probability the title's
    appeal) or earlier (abandoned). When a session stops, another one starts shortly after.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        population: Population,
        *,
        concurrent_sessions: int,
        seed: int | str,
        start_ms: int,
    ) -> None:
        if concurrent_sessions < 1:
            raise ValueError(f"at least one concurrent session is needed, not {concurrent_sessions}")
        self.catalogue = catalogue
        self.population = population
        self.concurrent_sessions = concurrent_sessions
        self.start_ms = start_ms
        self.clock_ms = start_ms  # occurred_at of the latest event yielded
        self._rng = random.Random(seed)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def __iter__(self) -> Iterator[PlaybackRecord]:
        rng = self._rng
        order = itertools.count()  # breaks ties between sessions deterministically
        pending: list[tuple[int, int, PlaybackRecord, Iterator[PlaybackRecord]]] = []

        def schedule(session: Iterator[PlaybackRecord]) -> None:
            record = next(session, None)
            if record is not None:
                heapq.heappush(pending, (record["occurred_at"], next(order), record, session))

        # Staggered over one heartbeat interval, so the event rate is steady from the start.
        for _ in range(self.concurrent_sessions):
            schedule(self._session(self.start_ms + rng.randrange(HEARTBEAT_INTERVAL_MS)))
        while pending:
            occurred_at, _, record, session = heapq.heappop(pending)
            self.clock_ms = occurred_at
            yield record
            if record["event_type"] == "STOP":
                schedule(self._session(occurred_at + rng.randint(*NEXT_SESSION_GAP_MS)))
            else:
                schedule(session)

    def _session(self, start_ms: int) -> Iterator[PlaybackRecord]:
        rng = self._rng
        customer_id = self.population.pick(rng)
        title = self.catalogue.pick(rng, taste_of(customer_id))
        session_id = self._uuid()
        device = _weighted(rng, DEVICE_WEIGHTS)
        app_version = _weighted(rng, APP_VERSION_WEIGHTS)
        country = self.population.country_of(customer_id)
        duration = title.duration_ms

        position = 0 if rng.random() >= RESUME_SHARE else round(rng.uniform(0.05, 0.7) * duration)
        if rng.random() < title.appeal:
            stop_at = round(rng.uniform(0.95, 1.0) * duration)  # the credits are often skipped
        else:
            stop_at = position + 30_000 + round(rng.random() * max(0.0, 0.9 * duration - position - 30_000))
        now = start_ms

        def event(event_type: str) -> PlaybackRecord:
            return PlaybackRecord(
                event_id=self._uuid(),
                session_id=session_id,
                customer_id=customer_id,
                title_id=title.title_id,
                event_type=event_type,
                position_ms=position,
                occurred_at=now,
                device=device,
                country=country,
                app_version=app_version,
            )

        yield event("PLAY")
        played_since_heartbeat = 0
        while True:
            # Pauses and seeks are memoryless, so drawing their waits afresh after every event is exact.
            to_stop = stop_at - position
            to_heartbeat = HEARTBEAT_INTERVAL_MS - played_since_heartbeat
            to_pause = round(rng.expovariate(1 / PAUSE_EVERY_MS))
            to_seek = round(rng.expovariate(1 / SEEK_EVERY_MS))
            step = min(to_stop, to_heartbeat, to_pause, to_seek)
            now += step
            position += step
            played_since_heartbeat += step
            if step == to_stop:
                yield event("STOP")
                return
            if step == to_heartbeat:
                played_since_heartbeat = 0
                yield event("HEARTBEAT")
            elif step == to_pause:
                yield event("PAUSE")
                now += _log_uniform(rng, PAUSE_MS)
                yield event("PLAY")
            else:
                forward = rng.random() < 0.7  # skipping an intro or a dull scene; else rewinding
                jump = rng.randint(10_000, 300_000) if forward else -rng.randint(5_000, 60_000)
                position = min(max(0, position + jump), stop_at)
                yield event("SEEK")
