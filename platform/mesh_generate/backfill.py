"""A compressed viewing history ("backfill"): hours of past sessions, sent as fast as the sink takes
them, so that a fresh mesh has viewers with enough history for recommendations.next-title to learn their
tastes (a few seconds of live traffic give almost every viewer one session, and popularity wins).

The history starts `hours` before sending starts and runs, in simulated time, much faster than the
wall clock. Sending stops when it has caught up: at the first event that would lie in the future. So the
history ends at the moment sending ends and never runs ahead of the wall clock; that matters because
engagement.viewing drops events older than its watermark (newest event - 10 minutes), so an event from
the future would make the live traffic after it arrive "late".

Only the `viewers` most active customers watch in the history: a small, regular audience, each with a
handful of sessions, rather than every customer once. Pure: time and sending are the caller's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mesh_generate.messages import AvroMessage, Outgoing
from mesh_generate.playback_sessions import (
    MEAN_MS_BETWEEN_SESSION_EVENTS,
    Catalogue,
    PlaybackSimulator,
    Population,
)

HOUR_MS = 3_600_000

# Chosen with bench/model_lift.py (see its results): three days by the 300 most active of 10,000
# customers, about 250k events (~2,300 sessions, two or three a day each). Kafka takes them in seconds,
# the playback product ingests them in about a minute, and with that history ALS can beat popularity
# (provided it has few enough factors for so little data: see the experiment).
DEFAULT_HOURS = 72.0
DEFAULT_VIEWERS = 300
DEFAULT_EVENTS = 250_000


@dataclass(frozen=True)
class Backfill:
    """`hours` of history by the `viewers` most active customers, about `events` events in all: as
    many concurrent sessions as produce that many events over that time."""

    hours: float = DEFAULT_HOURS
    viewers: int = DEFAULT_VIEWERS
    events: int = DEFAULT_EVENTS

    def __post_init__(self) -> None:
        if not self.hours > 0:
            raise ValueError(f"a history must last more than 0 hours, not {self.hours:g}")
        if self.viewers < 1:
            raise ValueError(f"a history needs at least one viewer, not {self.viewers}")
        if self.events < 1:
            raise ValueError(f"a history needs at least one event, not {self.events}")

    @property
    def concurrent_sessions(self) -> int:
        """Sessions under way at any moment of the history (at least one)."""
        return max(1, round(self.events * MEAN_MS_BETWEEN_SESSION_EVENTS / (self.hours * HOUR_MS)))

    @property
    def expected_events(self) -> int:
        """About how many events the history holds: `events`, to the nearest whole number of sessions."""
        return round(self.hours * HOUR_MS / MEAN_MS_BETWEEN_SESSION_EVENTS * self.concurrent_sessions)

    def simulator(
        self, catalogue: Catalogue, population: Population, *, seed: int | str, now_ms: int
    ) -> PlaybackSimulator:
        """The sessions of the history, starting `hours` before `now_ms`; endless, so stop them with
        `history_ends`. Only the `viewers` most active customers of `population` watch."""
        audience = population.most_active(self.viewers) if self.viewers < len(population) else population
        return PlaybackSimulator(
            catalogue,
            audience,
            concurrent_sessions=self.concurrent_sessions,
            seed=seed,
            start_ms=now_ms - round(self.hours * HOUR_MS),
        )


def history_ends(wall_clock_ms: Callable[[], int]) -> Callable[[Outgoing], bool]:
    """For `send_traffic(stop_before=...)`: true for the first message about an event that has not
    happened yet by the wall clock, so the history ends where the present begins.

    Messages are in simulated time order apart from late and duplicate ones, which repeat the past,
    and malformed ones, which copy an event already sent; so the first event from the future is where
    the history has caught up."""

    def in_the_future(message: Outgoing) -> bool:
        return isinstance(message, AvroMessage) and message.record["occurred_at"] > wall_clock_ms()

    return in_the_future
