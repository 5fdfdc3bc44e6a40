"""The snapshot retention policy, on plain ids and times: every snapshot of the recent window, then the
newest of each minute and hour for as long as their tiers reach, the current and tagged ones always."""

from __future__ import annotations

import random

import pytest

from mesh_sdk.storage.retention import DAY_S, HOUR_S, Cadence, RetentionPolicy, SnapshotFacts, Tier, to_expire, to_keep

MIN_MS = 60_000
HOUR_MS = HOUR_S * 1000
NOW = 1_000 * HOUR_MS  # a whole hour, so the buckets below are easy to read


def chain(*times_ms: int, readable: dict[int, bool] | None = None) -> list[SnapshotFacts]:
    """Snapshots committed one after the other at these times; ids 1, 2, 3 ..."""
    readable = readable or {}
    return [
        SnapshotFacts(i, t, i - 1 if i > 1 else None, readable.get(i, True)) for i, t in enumerate(times_ms, start=1)
    ]


def current(snapshots: list[SnapshotFacts]) -> set[int]:
    return {snapshots[-1].snapshot_id}


HOURLY = RetentionPolicy(recent_s=HOUR_S, recent_max=1000, tiers=(Tier(HOUR_S, 2 * DAY_S),))


def test_every_snapshot_of_the_recent_window_is_kept() -> None:
    snapshots = chain(*(NOW - HOUR_MS + k * MIN_MS for k in range(61)))  # one a minute, the last hour
    assert to_expire(snapshots, current(snapshots), NOW, HOURLY) == []


def test_the_recent_window_keeps_no_more_than_its_cap() -> None:
    snapshots = chain(*(NOW - 100 * 1000 + k * 1000 for k in range(100)))  # one a second
    policy = RetentionPolicy(recent_s=HOUR_S, recent_max=10, tiers=())
    assert to_keep(snapshots, current(snapshots), NOW, policy) == set(range(91, 101)), "the newest ten"


def test_beyond_the_recent_window_the_newest_snapshot_of_each_hour_is_kept() -> None:
    hour = NOW - 5 * HOUR_MS  # a whole hour, four hours before the recent window
    older = [hour + 10 * MIN_MS, hour + 40 * MIN_MS, hour + 59 * MIN_MS, hour + HOUR_MS + 5 * MIN_MS]
    snapshots = chain(*older, NOW - MIN_MS)
    assert to_expire(snapshots, current(snapshots), NOW, HOURLY) == [1, 2], "3 ends its hour, 4 the next"


def test_a_snapshot_committed_on_the_hour_stands_for_the_hour_it_ends() -> None:
    hour = NOW - 10 * HOUR_MS
    snapshots = chain(hour - MIN_MS, hour, hour + 1, NOW - MIN_MS)
    assert to_keep(snapshots, current(snapshots), NOW, HOURLY) == {2, 3, 4}, "as of the hour reads 2, exactly"


def test_several_tiers_thin_out_finer_near_and_coarser_far() -> None:
    policy = RetentionPolicy(recent_s=0, recent_max=1, tiers=(Tier(60, 2 * HOUR_S), Tier(HOUR_S, DAY_S)))
    near = [NOW - 30 * MIN_MS + s * 1000 for s in (1, 20, 59)]  # three in one minute, half an hour ago
    far = [NOW - 5 * HOUR_MS + m * MIN_MS for m in (1, 2, 3)]  # three minutes of one hour, five hours ago
    snapshots = chain(*far, *near, NOW)
    kept = to_keep(snapshots, current(snapshots), NOW, policy)
    assert kept == {3, 6, 7}, "the hour's newest far away; the minute's newest nearby; the current one"


def test_nothing_older_than_the_last_tier_is_kept() -> None:
    snapshots = chain(NOW - 3 * DAY_S * 1000, NOW - 2 * DAY_S * 1000 + 1, NOW - MIN_MS)
    assert to_expire(snapshots, current(snapshots), NOW, HOURLY) == [1]


def test_the_current_snapshot_is_kept_however_old() -> None:
    snapshots = chain(NOW - 30 * DAY_S * 1000, NOW - 20 * DAY_S * 1000)  # a table nobody wrote for weeks
    assert to_keep(snapshots, current(snapshots), NOW, HOURLY) == {2}


def test_a_tagged_snapshot_is_kept_however_old_and_whatever_its_hour() -> None:
    hour = NOW - 10 * HOUR_MS
    snapshots = chain(NOW - 9 * DAY_S * 1000, hour + MIN_MS, hour + 2 * MIN_MS, NOW - MIN_MS)
    kept = to_keep(snapshots, {4, 1, 2}, NOW, HOURLY)  # 1 and 2 tagged
    assert kept == {1, 2, 3, 4}


def test_a_partial_snapshot_never_stands_for_its_hour() -> None:
    hour = NOW - 10 * HOUR_MS
    snapshots = chain(hour + MIN_MS, hour + 2 * MIN_MS, NOW - MIN_MS, readable={2: False})
    assert to_keep(snapshots, current(snapshots), NOW, HOURLY) == {1, 3}, "the newest readable one instead"


def test_a_partial_snapshot_in_the_recent_window_stays_so_the_chain_has_no_gap() -> None:
    snapshots = chain(NOW - 3 * MIN_MS, NOW - 2 * MIN_MS, NOW - MIN_MS, readable={2: False})
    assert to_expire(snapshots, current(snapshots), NOW, HOURLY) == []


def test_a_snapshot_a_rollback_left_behind_does_not_stand_for_its_hour() -> None:
    hour = NOW - 10 * HOUR_MS
    # 1 -> 2 -> 3, then the writer rolled back to 2 and committed 4 on it: 3 is off the line.
    snapshots = [
        SnapshotFacts(1, hour + MIN_MS, None),
        SnapshotFacts(2, hour + 2 * MIN_MS, 1),
        SnapshotFacts(3, hour + 3 * MIN_MS, 2),
        SnapshotFacts(4, NOW - MIN_MS, 2),
    ]
    assert to_keep(snapshots, {4}, NOW, HOURLY) == {2, 4}
    assert 3 in to_keep(snapshots, {4}, NOW + 0, RetentionPolicy(recent_s=11 * HOUR_S, tiers=())), (
        "the recent window keeps it all the same: a reader may have pinned it a moment ago"
    )


def test_snapshots_behind_a_gap_in_the_chain_are_taken_as_on_the_line() -> None:
    # 5 and 6 were kept as their hours' newest by an earlier pass; the snapshots between are gone.
    snapshots = [
        SnapshotFacts(5, NOW - 20 * HOUR_MS + MIN_MS, 4),
        SnapshotFacts(6, NOW - 19 * HOUR_MS + MIN_MS, 5),
        SnapshotFacts(9, NOW - 2 * MIN_MS, 8),
        SnapshotFacts(10, NOW - MIN_MS, 9),
    ]
    assert to_expire(snapshots, {10}, NOW, HOURLY) == []


def test_a_later_commit_wins_a_tie_in_time() -> None:
    hour = NOW - 10 * HOUR_MS
    snapshots = chain(hour + MIN_MS, hour + MIN_MS, NOW)
    assert to_keep(snapshots, current(snapshots), NOW, HOURLY) == {2, 3}


def test_a_snapshot_from_a_clock_ahead_of_ours_counts_as_recent() -> None:
    snapshots = chain(NOW + 5 * MIN_MS)
    assert to_keep(snapshots, set(), NOW, HOURLY) == {1}


def test_no_snapshots_nothing_to_expire() -> None:
    assert to_expire([], set(), NOW, HOURLY) == []


def _day_of_commits(seed: int) -> list[SnapshotFacts]:
    """Three days of commits at random moments, a few a minute at times, none for hours at others."""
    rng = random.Random(seed)
    times, t = [], NOW - 3 * DAY_S * 1000
    while t < NOW:
        times.append(t)
        t += rng.choice([rng.randint(1, 20_000), rng.randint(1, 30 * MIN_MS), rng.randint(1, 5 * HOUR_MS)])
    unreadable = {i: False for i in range(1, len(times) + 1) if rng.random() < 0.2 and i < len(times)}
    return chain(*times, readable=unreadable)


@pytest.mark.parametrize("seed", range(5))
def test_as_of_a_whole_hour_reads_what_it_read_before_the_thinning(seed: int) -> None:
    snapshots = _day_of_commits(seed)
    kept = to_keep(snapshots, current(snapshots), NOW, HOURLY)
    readable = [s for s in snapshots if s.readable]
    compared = 0
    for hours_back in range(2, 48):
        at = NOW - hours_back * HOUR_MS

        def as_of(candidates: list[SnapshotFacts], at: int = at) -> SnapshotFacts | None:
            before = [s for s in candidates if s.timestamp_ms <= at]
            return before[-1] if before else None

        truth = as_of(readable)
        if truth is None or NOW - truth.timestamp_ms > 2 * DAY_S * 1000:
            continue  # written before the tier's reach: gone, as it should be
        compared += 1
        assert as_of([s for s in readable if s.snapshot_id in kept]) == truth, f"{hours_back} h back"
    assert compared > 20


@pytest.mark.parametrize("seed", range(5))
def test_the_policy_applied_again_keeps_what_it_kept(seed: int) -> None:
    snapshots = _day_of_commits(seed)
    kept = to_keep(snapshots, current(snapshots), NOW, HOURLY)
    survivors = [s for s in snapshots if s.snapshot_id in kept]
    assert to_keep(survivors, current(snapshots), NOW, HOURLY) == kept


@pytest.mark.parametrize("seed", range(5))
def test_an_hourly_snapshot_stays_until_its_tier_no_longer_reaches_it(seed: int) -> None:
    snapshots = _day_of_commits(seed)
    kept_now = to_keep(snapshots, current(snapshots), NOW, HOURLY)
    later = NOW + 12 * HOUR_MS
    survivors = [s for s in snapshots if s.snapshot_id in kept_now]
    kept_later = to_keep(survivors, current(snapshots), later, HOURLY)
    hourly = [s for s in survivors if NOW - s.timestamp_ms > HOURLY.recent_s * 1000]  # not kept as recent
    lost = [s for s in hourly if s.snapshot_id not in kept_later]
    assert lost, "something left the two days in twelve hours"
    assert all(later - s.timestamp_ms > 2 * DAY_S * 1000 for s in lost), "only what the tier no longer reaches"


def test_the_bound_on_kept_snapshots_holds_at_one_commit_a_second() -> None:
    policy = RetentionPolicy()  # the defaults
    snapshots = chain(*(NOW - 3 * DAY_S * 1000 + k * 1000 for k in range(3 * DAY_S)))
    kept = to_keep(snapshots, current(snapshots), NOW, policy)
    assert len(kept) <= policy.recent_max + 60 + 7 * 24, len(kept)
    assert len(kept) > policy.recent_max + 60 + 48, "the minute and hour tiers keep their share"


def test_a_policy_refuses_what_would_keep_nothing_sensible() -> None:
    with pytest.raises(ValueError):
        RetentionPolicy(recent_max=0)
    with pytest.raises(ValueError):
        RetentionPolicy(recent_s=-1)
    with pytest.raises(ValueError):
        RetentionPolicy(tiers=(Tier(0, HOUR_S),))


def test_capped_lowers_the_cap_never_raises_it() -> None:
    assert RetentionPolicy(recent_max=500).capped(200).recent_max == 200
    assert RetentionPolicy(recent_max=50).capped(200).recent_max == 50


def test_the_policy_says_what_it_keeps() -> None:
    assert RetentionPolicy().describe() == (
        "every snapshot of the last 2 hours (at most the newest 200), then one per minute for 1 hour, "
        "then one per hour for 7 days; the current snapshot and every tagged one always"
    )
    assert RetentionPolicy().reach_s == 7 * DAY_S


def test_a_cadence_looks_first_then_after_a_slack_of_snapshots_or_a_while() -> None:
    cadence = Cadence(every_s=60, slack=10)
    assert cadence.due(0, 5), "nothing known yet: look"
    cadence.looked(0, snapshots_left=5)
    assert not cadence.due(1, 14)
    assert cadence.due(1, 15), "ten more snapshots"
    assert cadence.due(60, 6), "a minute later"
    cadence.looked(60, snapshots_left=6)
    assert not cadence.due(119.9, 15)
