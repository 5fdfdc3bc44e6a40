"""The example queries of content-insights.kpis (queries/), the questions an analyst asks, run on the
product's ports and give the answers its inputs imply: each is checked against a recomputation from
engagement.viewing's daily watch time, content.titles and subscriptions.subscriptions, read at the
snapshots the KPIs' refresh pinned."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
    table_rows,
)

pytestmark = pytest.mark.integration
DAILY = "content_insights.kpis_daily_v1"


@dataclass
class Inputs:
    """The KPIs' inputs as their last refresh saw them."""

    engagement: list[dict[str, Any]]  # engagement.viewing daily: day, customer, title
    titles: dict[int, dict[str, Any]]
    subscriptions: list[dict[str, Any]]

    def by_title(self, days: set[date]) -> dict[int, dict[str, Any]]:
        """Viewers, sessions, completed sessions and watch seconds per title over `days`."""
        out: dict[int, dict[str, Any]] = {}
        for row in self.engagement:
            if row["day"] in days:
                kpi = out.setdefault(row["title_id"], {"viewers": set(), "sessions": 0, "completed": 0, "seconds": 0.0})
                kpi["viewers"].add(row["customer_id"])
                kpi["sessions"] += row["sessions"]
                kpi["completed"] += row["completed_sessions"]
                kpi["seconds"] += row["watch_seconds"]
        return out

    @property
    def days(self) -> list[date]:
        return sorted({row["day"] for row in self.engagement})


@pytest.fixture(scope="module")
def kpis(running_mesh: RunningMesh) -> DerivedRuntime:
    running_mesh.caught_up()
    runtime: DerivedRuntime = running_mesh["content-insights.kpis"]
    runtime.refresh_now()
    return runtime


@pytest.fixture(scope="module")
def inputs(kpis: DerivedRuntime) -> Inputs:
    catalog = iceberg_catalog(kpis.settings)

    def read(table: str, port: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = UpstreamTable(catalog, table).rows(kpis.seen[port]).to_pylist()
        return rows

    titles = {t["title_id"]: t for t in read("content.titles_titles_v1", "titles")}
    return Inputs(
        read("engagement.viewing_daily_v1", "engagement"),
        titles,
        read("subscriptions.subscriptions_subscriptions_v1", "subscriptions"),
    )


@pytest.fixture(scope="module")
def client(kpis: DerivedRuntime) -> Iterator[httpx.Client]:
    with http_client(kpis) as http:
        yield http


def test_best_completion_this_week_ranks_titles_as_engagement_implies(kpis: DerivedRuntime, inputs: Inputs) -> None:
    rows = example_rows(kpis, "best_completion_this_week")
    newest = inputs.days[-1]
    week = {newest - timedelta(days=n) for n in range(7)}
    candidates = [(title, kpi) for title, kpi in inputs.by_title(week).items() if kpi["sessions"] >= 2]
    candidates.sort(key=lambda tk: (-tk[1]["completed"] / tk[1]["sessions"], -tk[1]["sessions"], tk[0]))
    expected = candidates[:20]
    assert rows and [r["title_id"] for r in rows] == [title for title, _ in expected]
    for r, (title, kpi) in zip(rows, expected, strict=True):
        assert (r["sessions"], r["completed_sessions"]) == (kpi["sessions"], kpi["completed"])
        assert r["completion_rate"] == pytest.approx(kpi["completed"] / kpi["sessions"], abs=6e-4)
        assert r["title_name"] == inputs.titles.get(title, {}).get("name")


def test_top_titles_of_the_latest_day_have_the_most_viewers(kpis: DerivedRuntime, inputs: Inputs) -> None:
    rows = example_rows(kpis, "top_titles_latest_day")
    newest = inputs.days[-1]
    per_title = inputs.by_title({newest})
    ranked = sorted(per_title.items(), key=lambda tk: (-len(tk[1]["viewers"]), -tk[1]["sessions"], tk[0]))[:10]
    assert [(r["day"], r["title_id"], r["viewers"]) for r in rows] == [
        (newest, title, len(kpi["viewers"])) for title, kpi in ranked
    ]
    for r, (_, kpi) in zip(rows, ranked, strict=True):
        assert r["watch_hours"] == pytest.approx(kpi["seconds"] / 3600, abs=0.006)


def test_genre_watch_hours_are_the_days_watch_hours_split_by_main_genre(kpis: DerivedRuntime, inputs: Inputs) -> None:
    rows = example_rows(kpis, "genre_watch_hours_trend")
    expected: dict[tuple[date, str], float] = defaultdict(float)
    for row in inputs.engagement:
        genre = inputs.titles.get(row["title_id"], {}).get("primary_genre") or "unknown"
        expected[(row["day"], genre)] += row["watch_seconds"] / 3600
    assert {(r["day"], r["genre"]) for r in rows} == set(expected)
    for r in rows:
        assert r["watch_hours"] == pytest.approx(expected[(r["day"], r["genre"])], abs=0.006)
    for day in inputs.days:
        assert sum(r["share_of_day"] for r in rows if r["day"] == day) == pytest.approx(1, abs=0.01)
    first_day: dict[str, date] = {}
    for r in sorted(rows, key=lambda r: r["day"]):
        first_day.setdefault(r["genre"], r["day"])
    assert all((r["change_hours"] is None) == (r["day"] == first_day[r["genre"]]) for r in rows)


def test_churn_signal_trend_counts_active_subscribers_silent_for_a_week(kpis: DerivedRuntime, inputs: Inputs) -> None:
    rows = example_rows(kpis, "churn_signal_trend")
    assert [r["day"] for r in rows] == sorted(inputs.days, reverse=True)
    watched: dict[int, set[date]] = defaultdict(set)
    for row in inputs.engagement:
        watched[row["customer_id"]].add(row["day"])
    for r in rows:
        start = datetime(r["day"].year, r["day"].month, r["day"].day, tzinfo=UTC)
        active = [
            s
            for s in inputs.subscriptions
            if s["started_at"] < start + timedelta(days=1) and (s["cancelled_at"] is None or s["cancelled_at"] >= start)
        ]
        week = {r["day"] - timedelta(days=n) for n in range(7)}
        at_risk = [s for s in active if not watched[s["customer_id"]] & week]
        cancelled = [s for s in inputs.subscriptions if s["cancelled_at"] and s["cancelled_at"].date() == r["day"]]
        assert (r["active_subscribers"], r["at_risk_subscribers"]) == (len(active), len(at_risk))
        assert r["cancellations"] == len(cancelled)
        assert r["at_risk_share"] == pytest.approx(len(at_risk) / len(active), abs=6e-4)
        assert r["viewers"] == len({row["customer_id"] for row in inputs.engagement if row["day"] == r["day"]})
    assert rows[-1]["at_risk_change"] is None


def test_service_day_over_day_follows_the_daily_table(kpis: DerivedRuntime, inputs: Inputs) -> None:
    rows = example_rows(kpis, "service_day_over_day")
    daily = {r["day"]: r for r in sql_rows(kpis, f"SELECT * FROM {DAILY}")}
    assert [r["day"] for r in rows] == sorted(daily, reverse=True) == sorted(inputs.days, reverse=True)
    for r, before in zip(rows, [*rows[1:], None], strict=True):
        kpi = daily[r["day"]]
        seconds = sum(row["watch_seconds"] for row in inputs.engagement if row["day"] == r["day"])
        assert r["watch_hours"] == pytest.approx(seconds / 3600, abs=0.006)
        assert (r["viewers"], r["sessions"]) == (kpi["viewers"], kpi["sessions"])
        if before is None:
            assert r["viewers_change"] is None and r["sessions_change"] is None
        else:
            assert r["viewers_change"] == r["viewers"] - before["viewers"]
            assert r["sessions_change"] == r["sessions"] - before["sessions"]


def test_recent_days_are_the_daily_table_newest_first(kpis: DerivedRuntime, client: httpx.Client) -> None:
    page = graphql(client, example_query(kpis, "recent_days").text)["daily"]
    daily = sql_rows(kpis, f"SELECT * FROM {DAILY} ORDER BY day DESC LIMIT 14")
    assert [(i["day"], i["viewers"], i["atRiskSubscribers"]) for i in page["items"]] == [
        (r["day"].isoformat(), r["viewers"], r["at_risk_subscribers"]) for r in daily
    ]


def test_daily_as_of_a_refresh_reads_the_snapshot_asked_for(kpis: DerivedRuntime, client: httpx.Client) -> None:
    text = example_query(kpis, "daily_as_of_a_refresh").text
    now = graphql(client, text)
    snapshots = [s["snapshotId"] for s in now["snapshots"]]
    assert snapshots and now["daily"]["snapshotId"] == snapshots[-1]
    for snapshot in (snapshots[0], snapshots[-1]):
        then = graphql(client, text, asOf=str(snapshot))["daily"]
        assert then["snapshotId"] == snapshot
        table = table_rows(kpis.settings, DAILY, snapshot)
        rows = sorted(table, key=lambda r: r["day"], reverse=True)[:7]
        assert [(i["day"], i["viewers"]) for i in then["items"]] == [(r["day"].isoformat(), r["viewers"]) for r in rows]
