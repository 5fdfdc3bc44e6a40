"""The whole mesh, end to end, on the embedded stack: app telemetry and the two operational databases
flow through the source-aligned products into engagement.viewing, content-insights.kpis and
recommendations.next-title, and every derived figure is checked against a recomputation from the
data it came from."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Consumer

from mesh_testing.mesh import RunningMesh
from mesh_testing.products import eventually, table_rows

pytestmark = pytest.mark.integration
GAP = timedelta(minutes=30)
MAX_GAP_COUNTED = timedelta(minutes=1)


def _sessionize(events: list[dict[str, Any]]) -> dict[tuple[int, int, datetime], tuple[int, float]]:
    """An independent batch sessionization: per customer and title, split where the player was silent
    for more than 30 minutes; watch time is playing time between events, at most a minute per gap."""
    by_key: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_key[(e["customer_id"], e["title_id"])].append(e)
    sessions: dict[tuple[int, int, datetime], tuple[int, float]] = {}
    for (customer, title), rows in by_key.items():
        rows.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
        start, count, watched = rows[0]["occurred_at"], 1, 0.0
        for before, after in itertools.pairwise(rows):
            if after["occurred_at"] - before["occurred_at"] > GAP:
                sessions[(customer, title, start)] = (count, watched)
                start, count, watched = after["occurred_at"], 1, 0.0
                continue
            count += 1
            if before["event_type"] in ("PLAY", "HEARTBEAT", "SEEK"):
                watched += min(after["occurred_at"] - before["occurred_at"], MAX_GAP_COUNTED).total_seconds()
        sessions[(customer, title, start)] = (count, watched)
    return sessions


def test_engagement_sessions_equal_a_recomputation_from_the_playback_history(running_mesh: RunningMesh) -> None:
    snapshot = running_mesh.caught_up()
    engagement = running_mesh["engagement.viewing"]
    settings = engagement.settings
    history = table_rows(settings, "playback.events_history_v1", snapshot)
    described = engagement.derivation.describe()
    assert described["late_events_dropped"] == 0 and described["duplicate_events_dropped"] == 0

    expected = _sessionize(history)
    sessions = table_rows(settings, "engagement.viewing_sessions_v1")
    actual = {(s["customer_id"], s["title_id"], s["started_at"]): (s["events"], s["watch_seconds"]) for s in sessions}
    assert len(sessions) == len(actual) == len(expected)
    assert actual.keys() == expected.keys()
    for key, (events, watched) in expected.items():
        assert actual[key][0] == events
        assert actual[key][1] == pytest.approx(watched, abs=1e-6)
    # every playback event is in exactly one session
    assert sum(s["events"] for s in sessions) == len(history)


def test_daily_watch_time_sums_the_sessions_and_joins_titles_and_customers(running_mesh: RunningMesh) -> None:
    running_mesh.caught_up()
    engagement = running_mesh["engagement.viewing"]
    rows = engagement.sql_query(
        "SELECT d.day, d.customer_id, d.title_id, d.sessions, d.watch_seconds, s.n, s.seconds "
        "FROM engagement.viewing_daily_v1 d FULL JOIN ("
        "  SELECT day, customer_id, title_id, count(*) AS n, sum(watch_seconds) AS seconds "
        "  FROM engagement.viewing_sessions_v1 GROUP BY ALL) s USING (day, customer_id, title_id)",
        [],
    ).to_pylist()
    assert rows
    for r in rows:
        assert r["sessions"] == r["n"]
        assert r["watch_seconds"] == pytest.approx(r["seconds"], abs=1e-3)
    settings = engagement.settings
    titles = {t["title_id"]: t["name"] for t in table_rows(settings, "content.titles_titles_v1")}
    countries = {c["customer_id"]: c["country"] for c in table_rows(settings, "subscriptions.customers_customers_v1")}
    for s in table_rows(settings, "engagement.viewing_sessions_v1"):
        assert s["title_name"] == titles.get(s["title_id"])
        if s["status"] == "open" and s["customer_id"] in countries:
            assert s["home_country"] == countries[s["customer_id"]]


def test_sql_kpis_equal_a_recomputation_from_engagement_titles_and_subscriptions(running_mesh: RunningMesh) -> None:
    running_mesh.caught_up()
    kpis = running_mesh["content-insights.kpis"]
    kpis.refresh_now()
    settings = kpis.settings
    daily = table_rows(settings, "engagement.viewing_daily_v1", kpis.seen["engagement"])
    titles = {t["title_id"]: t for t in table_rows(settings, "content.titles_titles_v1", kpis.seen["titles"])}
    expected: dict[tuple[Any, int], dict[str, Any]] = {}
    for row in daily:
        kpi = expected.setdefault((row["day"], row["title_id"]), {"viewers": set(), "sessions": 0, "seconds": 0.0})
        kpi["viewers"].add(row["customer_id"])
        kpi["sessions"] += row["sessions"]
        kpi["seconds"] += row["watch_seconds"]
    actual = kpis.sql_query("SELECT * FROM content_insights.kpis_title_daily_v1", []).to_pylist()
    assert len(actual) == len(expected)
    for row in actual:
        kpi = expected[(row["day"], row["title_id"])]
        assert row["viewers"] == len(kpi["viewers"]) and row["sessions"] == kpi["sessions"]
        assert row["watch_hours"] == pytest.approx(kpi["seconds"] / 3600, abs=1e-6)
        assert row["title_name"] == titles.get(row["title_id"], {}).get("name")

    subscriptions = table_rows(settings, "subscriptions.subscriptions_subscriptions_v1", kpis.seen["subscriptions"])
    for row in kpis.sql_query("SELECT day, active_subscribers FROM content_insights.kpis_daily_v1", []).to_pylist():
        start = datetime(row["day"].year, row["day"].month, row["day"].day, tzinfo=UTC)
        active = [
            s
            for s in subscriptions
            if s["started_at"] < start + timedelta(days=1) and (s["cancelled_at"] is None or s["cancelled_at"] >= start)
        ]
        assert row["active_subscribers"] == len(active)


def test_recommendations_exist_for_every_active_customer_from_a_reproducible_model(running_mesh: RunningMesh) -> None:
    running_mesh.caught_up()
    recommender = running_mesh["recommendations.next-title"]
    recommender.refresh_now()
    settings = recommender.settings
    pinned = recommender.seen["sessions"]
    sessions = table_rows(settings, "engagement.viewing_sessions_v1", pinned)
    active = {s["customer_id"] for s in sessions if s["watch_seconds"] > 0}
    watched = defaultdict(set)
    for s in sessions:
        if s["watch_seconds"] > 0:
            watched[s["customer_id"]].add(s["title_id"])

    recommendations = table_rows(settings, "recommendations.next_title_recommendations_v1")
    per_customer = defaultdict(list)
    for r in recommendations:
        per_customer[r["customer_id"]].append(r)
    assert per_customer.keys() == active
    for customer, rows in per_customer.items():
        assert 1 <= len(rows) <= 10
        assert not {r["title_id"] for r in rows} & watched[customer], "already watched titles are not recommended"

    models = table_rows(settings, "recommendations.next_title_models_v1")
    newest = max(models, key=lambda m: m["version"])
    assert newest["sessions_snapshot"] == pinned and newest["in_service"]
    card = recommender.discovery_extras()["derivation"]["model_card"]
    assert card["version"] == newest["version"]
    assert card["training_data"]["sessions"]["snapshot_id"] == pinned
    if card["evaluation"] is not None:  # the holdout needs customers seen before and after its cut
        assert 0 <= card["evaluation"]["model_precision"] <= 1

    # The stored artifact is the model in service: loaded again, it recommends the same titles.
    import sys

    from mesh_ml import ImplicitAls

    logic = sys.modules[type(recommender.derivation).__module__]
    model = ImplicitAls.from_bytes(recommender.derivation.context.artifacts.get(newest["version"], "model.npz"))
    some = sorted(active)[:5]
    again = model.recommend(some, logic.TOP_N)
    for customer in some:
        served = [r["title_id"] for r in sorted(per_customer[customer], key=lambda r: r["rank"])]
        assert [title for title, _ in again[customer]] == served

    # ... and the recommendations were published to the product's stream.
    consumer = Consumer(
        {
            **settings.kafka_client(),
            "group.id": f"e2e-{time.time_ns()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe(["recommendations.next-title.stream.v1"])
    try:
        got = eventually(lambda: consumer.poll(1.0), attempts=30)
        assert got.error() is None and got.value()
    finally:
        consumer.close()
