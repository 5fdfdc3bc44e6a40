"""Which snapshots a table keeps: by age, not by count.

A table keeps every snapshot of a recent window, then thins the older ones out tier by tier (one per
minute for a few hours, one per hour for days): of each clock minute or hour it keeps the newest
snapshot, so reading "as of" a whole hour (or minute) is exact and any time in between reads the table
as that bucket's last commit left it. The current snapshot, and any snapshot a tag or a branch names,
is always kept.

Every kept snapshot costs every commit (pyiceberg copies the table's metadata, which lists them all,
several times per commit), so the recent window is capped by count too: at several commits a second,
"every snapshot of the last two hours" would make each commit take seconds (bench/retention.py). With
the defaults a table keeps at most about 200 + 60 + 168 snapshots, however fast it commits.

Pure: no Iceberg here, only ids, times and parents; `mesh_sdk.storage.maintenance` applies it to tables."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

HOUR_S = 3600
DAY_S = 24 * HOUR_S


@dataclass(frozen=True)
class Tier:
    """Beyond the recent window: the newest snapshot of each `every_s` bucket (aligned to the epoch,
    so to UTC minutes and hours), while it is at most `for_s` old."""

    every_s: int
    for_s: float


@dataclass(frozen=True)
class RetentionPolicy:
    recent_s: float = 2 * HOUR_S
    recent_max: int = 200
    tiers: tuple[Tier, ...] = (Tier(60, HOUR_S), Tier(HOUR_S, 7 * DAY_S))

    def __post_init__(self) -> None:
        if self.recent_s < 0 or self.recent_max < 1:
            raise ValueError("the recent window must be >= 0 s and keep at least one snapshot")
        for tier in self.tiers:
            if tier.every_s < 1 or tier.for_s < 0:
                raise ValueError(f"a tier keeps one snapshot per >= 1 s for >= 0 s, not {tier}")

    def capped(self, recent_max: int) -> RetentionPolicy:
        """The same policy keeping at most `recent_max` recent snapshots (tables whose commits cost more)."""
        return replace(self, recent_max=min(self.recent_max, recent_max))

    @property
    def reach_s(self) -> float:
        """How far back the policy keeps anything (tagged snapshots aside)."""
        return max([self.recent_s, *(t.for_s for t in self.tiers)])

    def describe(self) -> str:
        parts = [f"every snapshot of the last {_duration(self.recent_s)} (at most the newest {self.recent_max})"]
        parts += [f"one per {_duration(t.every_s, one=True)} for {_duration(t.for_s)}" for t in self.tiers if t.for_s]
        return ", then ".join(parts) + "; the current snapshot and every tagged one always"


@dataclass(frozen=True)
class SnapshotFacts:
    """What the policy needs of a snapshot. `readable` is False for the middle of a commit made of
    several (mesh_sdk.storage.history.PARTIAL): nobody may travel there, so it never stands for its bucket."""

    snapshot_id: int
    timestamp_ms: int
    parent_id: int | None
    readable: bool = True


def to_keep(
    snapshots: Sequence[SnapshotFacts], heads: Collection[int], now_ms: int, policy: RetentionPolicy
) -> set[int]:
    """The ids of the snapshots to keep. `snapshots` in commit order (the table metadata's), `heads`
    the snapshots refs name: the current one (branch main), tags and other branches."""
    present = {s.snapshot_id: s for s in snapshots}
    order = {s.snapshot_id: i for i, s in enumerate(snapshots)}

    def newest_first(s: SnapshotFacts) -> tuple[int, int]:
        return (-s.timestamp_ms, -order[s.snapshot_id])

    kept = {h for h in heads if h in present}
    recent = sorted((s for s in snapshots if now_ms - s.timestamp_ms <= policy.recent_s * 1000), key=newest_first)
    kept |= {s.snapshot_id for s in recent[: policy.recent_max]}

    on_line = _on_a_line(snapshots, present, kept & set(heads))
    eligible = [s for s in snapshots if s.readable and on_line(s)]
    for tier in policy.tiers:
        newest: dict[int, SnapshotFacts] = {}
        for s in eligible:
            bucket = (s.timestamp_ms - 1) // (tier.every_s * 1000)  # (start, end]: the end is exact
            best = newest.get(bucket)
            if best is None or newest_first(s) < newest_first(best):
                newest[bucket] = s
        kept |= {s.snapshot_id for s in newest.values() if now_ms - s.timestamp_ms <= tier.for_s * 1000}
    return kept


def to_expire(
    snapshots: Sequence[SnapshotFacts], heads: Collection[int], now_ms: int, policy: RetentionPolicy
) -> list[int]:
    """The ids of the snapshots the policy lets go, in commit order."""
    kept = to_keep(snapshots, heads, now_ms, policy)
    return [s.snapshot_id for s in snapshots if s.snapshot_id not in kept]


def _on_a_line(
    snapshots: Sequence[SnapshotFacts], present: dict[int, SnapshotFacts], heads: Collection[int]
) -> _OnLine:
    """Whether a snapshot is on the line some ref took: an ancestor of a head. A snapshot left behind
    (a writer rolled its table back past it) stands for no time: the table never read like that again.
    Ancestry is known only as far back as the parents are present: once thinned out, the chain has
    gaps, and a snapshot older than the first gap is taken to be on the line (it was when it was kept)."""
    reached: set[int] = set()
    known_since: int | None = None  # the time before which nothing can be told
    for head in heads:
        snapshot: SnapshotFacts | None = present[head]
        while snapshot is not None and snapshot.snapshot_id not in reached:
            reached.add(snapshot.snapshot_id)
            parent = snapshot.parent_id
            if parent is not None and parent not in present:
                gap = snapshot.timestamp_ms
                known_since = gap if known_since is None else min(known_since, gap)
            snapshot = present.get(parent) if parent is not None else None
    if not heads:
        return _OnLine(reached, None, everything=True)
    return _OnLine(reached, known_since)


@dataclass(frozen=True)
class _OnLine:
    reached: set[int]
    known_since: int | None
    everything: bool = False

    def __call__(self, s: SnapshotFacts) -> bool:
        if self.everything or s.snapshot_id in self.reached:
            return True
        return self.known_since is not None and s.timestamp_ms < self.known_since


@dataclass
class Cadence:
    """When to look again: deciding costs a pass over every snapshot and expiring costs a commit, so
    a writer looks after `slack` new snapshots or after `every_s`, not after each of its commits."""

    every_s: float
    slack: int
    _looked_at: float | None = None
    _count_after: int = 0

    def due(self, now_s: float, snapshots: int) -> bool:
        if self._looked_at is None:
            return True
        return snapshots >= self._count_after + self.slack or now_s - self._looked_at >= self.every_s

    def looked(self, now_s: float, snapshots_left: int) -> None:
        self._looked_at = now_s
        self._count_after = snapshots_left


def _duration(seconds: float, one: bool = False) -> str:
    for unit, size in (("day", DAY_S), ("hour", HOUR_S), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            if one and count == 1:
                return unit
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} s"
