"""The example queries of engagement.viewing (queries/) run on the product's ports and answer what the
playback history implies: each figure is checked against a batch sessionization of the playback events
the product has processed, done here independently of the product's streaming logic."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from mesh_adapters.lakehouse import iceberg_catalog
from mesh_sdk.runtime.derived import DerivedRuntime
from mesh_sdk.storage.upstream import UpstreamTable
from mesh_testing.mesh import RunningMesh
from mesh_testing.products import (
    example_query,
    example_rows,
    graphql,
    http_client,
    sql_rows,
)

pytestmark = pytest.mark.integration
SESSIONS = "engagement.viewing_sessions_v1"
DAILY = "engagement.viewing_daily_v1"
CUSTOMER = 106  # the customer the per-customer examples name
GAP = timedelta(minutes=30)
MAX_GAP_COUNTED = timedelta(minutes=1)
PLAYING = ("PLAY", "HEARTBEAT", "SEEK")


@dataclass
class Session:
    customer_id: int
    title_id: int
    started_at: datetime
    country: str
    device: str
    events: int = 1
    watch_seconds: float = 0.0

    @property
    def day(self) -> date:
        return self.started_at.date()  # the history's timestamps are UTC


def sessionize(events: list[dict[str, Any]]) -> list[Session]:
    """Per customer and title, in time order, a new session wherever the player was silent for more than
    30 minutes; watch time is the playing time between events, at most a minute per gap."""
    by_key: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_key[(e["customer_id"], e["title_id"])].append(e)
    sessions = []
    for (customer, title), rows in by_key.items():
        rows.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
        current = Session(customer, title, rows[0]["occurred_at"], rows[0]["country"], rows[0]["device"])
        for before, after in itertools.pairwise(rows):
            if after["occurred_at"] - before["occurred_at"] > GAP:
                sessions.append(current)
                current = Session(customer, title, after["occurred_at"], after["country"], after["device"])
                continue
            current.events += 1
            if before["event_type"] in PLAYING:
                played = min(after["occurred_at"] - before["occurred_at"], MAX_GAP_COUNTED)
                current.watch_seconds += played.total_seconds()
        sessions.append(current)
    return sessions


@pytest.fixture(scope="module")
def engagement(running_mesh: RunningMesh) -> DerivedRuntime:
    running_mesh.caught_up()
    runtime: DerivedRuntime = running_mesh["engagement.viewing"]
    runtime.ports.refresh_views_now()  # the SQL port answers from the newest refresh
    return runtime


@pytest.fixture(scope="module")
def recomputed(engagement: DerivedRuntime) -> list[Session]:
    """The sessions a batch computation finds in the playback history the product has processed."""
    snapshot = engagement.seen["playback"]
    history = UpstreamTable(iceberg_catalog(engagement.settings), "playback.events_history_v1").rows(snapshot)
    sessions = sessionize(history.to_pylist())
    count = sql_rows(engagement, f"SELECT count(*) AS n FROM {SESSIONS}")
    assert len(sessions) == count[0]["n"]
    return sessions


@pytest.fixture(scope="module")
def client(engagement: DerivedRuntime) -> Iterator[httpx.Client]:
    with http_client(engagement) as http:
        yield http


def test_watch_time_per_country_counts_every_session_where_it_was_watched(
    engagement: DerivedRuntime, recomputed: list[Session]
) -> None:
    rows = example_rows(engagement, "watch_time_per_country")
    expected: dict[tuple[date, str], list[Session]] = defaultdict(list)
    for s in recomputed:
        expected[(s.day, s.country)].append(s)
    assert {(r["day"], r["viewing_country"]) for r in rows} == set(expected)
    for r in rows:
        sessions = expected[(r["day"], r["viewing_country"])]
        assert r["sessions"] == len(sessions)
        assert r["viewers"] == len({s.customer_id for s in sessions})
        assert r["watch_hours"] == pytest.approx(sum(s.watch_seconds for s in sessions) / 3600, abs=0.006)
        assert 0 <= r["completion_rate"] <= 1 and 0 <= r["away_from_home"] <= r["sessions"]
    hours = [(r["day"], r["watch_hours"]) for r in rows]
    assert hours == sorted(hours, key=lambda h: (h[0], h[1]), reverse=True)


def test_binge_days_are_the_customer_days_with_three_sessions_or_more(
    engagement: DerivedRuntime, recomputed: list[Session]
) -> None:
    rows = example_rows(engagement, "binge_days")
    per_day: dict[tuple[date, int], list[Session]] = defaultdict(list)
    for s in recomputed:
        per_day[(s.day, s.customer_id)].append(s)
    binges = {k: v for k, v in per_day.items() if len(v) >= 3}
    assert rows and len(rows) == min(50, len(binges))
    for r in rows:
        sessions = binges[(r["day"], r["customer_id"])]
        assert (r["sessions"], r["titles"]) == (len(sessions), len({s.title_id for s in sessions}))
        assert r["watch_hours"] == pytest.approx(sum(s.watch_seconds for s in sessions) / 3600, abs=0.006)
        assert r["first_started_at"] == min(s.started_at for s in sessions)
    heaviest = max(binges.values(), key=lambda v: sum(s.watch_seconds for s in v))
    assert (rows[0]["day"], rows[0]["customer_id"]) == (heaviest[0].day, heaviest[0].customer_id)


def test_a_customers_viewing_day_lists_their_sessions_in_order(
    engagement: DerivedRuntime, recomputed: list[Session]
) -> None:
    rows = example_rows(engagement, "customer_viewing_day")
    mine = [s for s in recomputed if s.customer_id == CUSTOMER]
    latest = max(s.day for s in mine)
    expected = sorted((s for s in mine if s.day == latest), key=lambda s: s.started_at)
    assert [(r["started_at"], r["title_id"], r["events"]) for r in rows] == [
        (s.started_at, s.title_id, s.events) for s in expected
    ]
    for r, s in zip(rows, expected, strict=True):
        assert (r["device"], r["viewing_country"]) == (s.device, s.country)
        assert r["watch_minutes"] == pytest.approx(s.watch_seconds / 60, abs=0.051)
        assert r["status"] in ("open", "closed")


def test_sessions_by_device_add_up_to_every_session(engagement: DerivedRuntime, recomputed: list[Session]) -> None:
    rows = example_rows(engagement, "sessions_by_device")
    assert {r["device"]: r["sessions"] for r in rows} == Counter(s.device for s in recomputed)
    open_sessions = f"SELECT count(*) FILTER (WHERE status = 'open') AS n FROM {SESSIONS}"
    statuses = sql_rows(engagement, open_sessions)
    assert sum(r["open_sessions"] for r in rows) == statuses[0]["n"]
    assert all(r["median_minutes"] <= r["longest_minutes"] for r in rows)


def test_a_customers_daily_watch_time_sums_their_sessions(
    engagement: DerivedRuntime, client: httpx.Client, recomputed: list[Session]
) -> None:
    page = graphql(client, example_query(engagement, "customer_daily_watch_time").text)["daily"]
    assert page["nextCursor"] is None, "one page holds this customer's days"
    days = [item["day"] for item in page["items"]]
    assert days == sorted(days, reverse=True)
    expected: dict[tuple[str, int], float] = defaultdict(float)
    for s in recomputed:
        if s.customer_id == CUSTOMER:
            expected[(s.day.isoformat(), s.title_id)] += s.watch_seconds
    actual = {(item["day"], item["titleId"]): item["watchSeconds"] for item in page["items"]}
    assert actual.keys() == expected.keys()
    for key, seconds in expected.items():
        assert actual[key] == pytest.approx(seconds, abs=1e-3)


def test_long_watches_page_through_every_day_over_ten_minutes(engagement: DerivedRuntime, client: httpx.Client) -> None:
    text = example_query(engagement, "long_watches").text
    seen: list[dict[str, Any]] = []
    snapshots: set[int] = set()
    after: str | None = None
    while True:
        page = graphql(client, text, after=after)["daily"]
        seen += page["items"]
        snapshots.add(page["snapshotId"])
        after = page["nextCursor"]
        if after is None:
            break
    seconds = [item["watchSeconds"] for item in seen]
    assert seconds == sorted(seconds, reverse=True) and all(s > 600 for s in seconds)
    over_ten = f"SELECT day, customer_id, title_id FROM {DAILY} WHERE watch_seconds > 600"
    long = sql_rows(engagement, over_ten)
    assert sorted((i["day"], i["customerId"], i["titleId"]) for i in seen) == sorted(
        (r["day"].isoformat(), r["customer_id"], r["title_id"]) for r in long
    )
    assert len(seen) > 25, "more than one page"
    assert len(snapshots) == 1, "every page reads the snapshot of the first"
