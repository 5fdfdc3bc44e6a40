"""The imperfect traffic a real app fleet sends: the simulated sessions' events, some of them late or
duplicated, mixed with malformed messages. Pure: it decides what to send, a sender sends it."""

from __future__ import annotations

import heapq
import itertools
import json
import random
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from mesh_generate.messages import MALFORMED_KINDS, AvroMessage, Kind, Outgoing, RawMessage, WireDefect
from mesh_generate.playback_sessions import PlaybackRecord, PlaybackSimulator

# The playback contract's bound on positions: no title runs longer than six hours. A position past
# it is past the end of every title, so the product's quality rule catches it without a catalogue.
MAX_POSITION_MS = 6 * 3_600_000
BAD_COUNTRIES = ("gb", "USA", "D", "", "u5", "Deutschland")
LOG_LINES = (
    "WARN  PlaybackReporter: heartbeat queue overflow, dropping batch",
    "ERROR http 503 upstream unavailable (retry in 30s)",
    "<html><body><h1>502 Bad Gateway</h1></body></html>",
)


@dataclass(frozen=True)
class Imperfections:
    """How imperfect the traffic is. Each fraction is a share of all messages sent; malformed messages
    are split evenly between undecodable, schema-invalid and contract-breaking ones."""

    late_fraction: float = 0.02
    duplicate_fraction: float = 0.01
    malformed_fraction: float = 0.01
    lateness_ms: tuple[int, int] = (15_000, 180_000)  # how long after it happened a late event arrives
    duplicate_window: int = 100  # a duplicate repeats one of this many latest events (a client retry)

    def __post_init__(self) -> None:
        fractions = {
            "late fraction": self.late_fraction,
            "duplicate fraction": self.duplicate_fraction,
            "malformed fraction": self.malformed_fraction,
        }
        for name, value in fractions.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"the {name} must be between 0 and 1, not {value}")
        total = sum(fractions.values())
        if total >= 1.0:
            raise ValueError(
                f"the late, duplicate and malformed fractions add up to {total:g}: "
                "they must stay below 1 to leave room for valid events"
            )
        low, high = self.lateness_ms
        if not 0 < low <= high:
            raise ValueError(f"lateness must be a range of positive milliseconds, not {self.lateness_ms}")
        if self.duplicate_window < 1:
            raise ValueError(f"the duplicate window must hold at least one event, not {self.duplicate_window}")


class PlaybackTraffic:
    """An endless stream of messages to send: the simulator's events with the configured imperfections.

    A late event is held back until simulated time has moved `lateness_ms` past it, so it arrives
    after events that happened later; runs shorter than that send few late events.
    """

    def __init__(
        self, simulator: PlaybackSimulator, imperfections: Imperfections | None = None, *, seed: int | str
    ) -> None:
        self.simulator = simulator
        self.imperfections = imperfections or Imperfections()
        self._rng = random.Random(f"traffic:{seed}")

    def __iter__(self) -> Iterator[Outgoing]:
        rng = self._rng
        imp = self.imperfections
        events = iter(self.simulator)
        order = itertools.count()
        held_back: list[tuple[int, int, PlaybackRecord]] = []  # (deliver at, order, record)
        recent: deque[PlaybackRecord] = deque(maxlen=imp.duplicate_window)
        malformed_below = imp.malformed_fraction
        duplicate_below = imp.malformed_fraction + imp.duplicate_fraction
        # Only session events can be held back; this share of them makes late ones `late_fraction` of all.
        hold_back_share = imp.late_fraction / (1.0 - duplicate_below)
        # Released once an event sent (not merely simulated: it may be held back too) happened after it.
        latest_sent = 0
        while True:
            if held_back and held_back[0][0] <= latest_sent:
                record = heapq.heappop(held_back)[2]
                recent.append(record)
                yield AvroMessage(Kind.LATE, record)
                continue
            draw = rng.random()
            if recent and draw < malformed_below:
                yield self._malformed(rng, recent[-1])
                continue
            if recent and draw < duplicate_below:
                yield AvroMessage(Kind.DUPLICATE, rng.choice(recent))
                continue
            record = next(events)
            if rng.random() < hold_back_share:
                deliver_at = record["occurred_at"] + rng.randint(*imp.lateness_ms)
                heapq.heappush(held_back, (deliver_at, next(order), record))
                continue
            recent.append(record)
            latest_sent = max(latest_sent, record["occurred_at"])
            yield AvroMessage(Kind.VALID, record)

    def _malformed(self, rng: random.Random, like: PlaybackRecord) -> Outgoing:
        """A broken message that looks as if it came from the session of `like`."""
        kind = rng.choice(MALFORMED_KINDS)
        record = like.copy()
        record["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if kind is Kind.UNDECODABLE:
            if rng.random() < 0.5:
                # Never 0 or 1 first: those are the magic bytes of the Confluent wire format.
                garbage = bytes([rng.randint(2, 255)]) + rng.randbytes(rng.randint(7, 63))
                return RawMessage(kind, like["session_id"], garbage, "random-bytes")
            return RawMessage(kind, like["session_id"], rng.choice(LOG_LINES).encode(), "plain-text")
        if kind is Kind.SCHEMA_INVALID:
            variant = rng.randrange(3)
            if variant == 0:
                return RawMessage(kind, like["session_id"], json.dumps(record).encode(), "json-text")
            wire_defect = WireDefect.UNKNOWN_SCHEMA_ID if variant == 1 else WireDefect.TRUNCATED
            return AvroMessage(kind, record, wire_defect.value, wire_defect)
        variant = rng.randrange(3)
        if variant == 0:
            record["position_ms"] = -rng.randint(1, 600_000)
            return AvroMessage(kind, record, "negative-position")
        if variant == 1:
            record["position_ms"] = MAX_POSITION_MS + rng.randint(60_000, 2 * 3_600_000)
            return AvroMessage(kind, record, "position-beyond-duration")
        record["country"] = rng.choice(BAD_COUNTRIES)
        return AvroMessage(kind, record, "bad-country")
