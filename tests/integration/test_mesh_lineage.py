"""Lineage of the whole running mesh, as the data product catalog shows it: declared by the products'
input ports and contracts, observed in the OpenLineage run events they send, and correct for one real
playback event followed from the app's telemetry to the snapshot the recommender read."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from mesh_catalog.runs import Run
from mesh_cli.main import app
from mesh_testing.mesh import RunningMesh
from mesh_testing.products import eventually, table_rows

pytestmark = pytest.mark.integration

TELEMETRY = "kafka:playback.telemetry.raw.v1"
PLAYBACK, VIEWING = "urn:mesh:playback:events:v1", "urn:mesh:engagement:viewing:v1"
RECOMMENDATIONS = "urn:mesh:recommendations:next-title:v1"
RECOMMENDED_TITLE = f"{RECOMMENDATIONS}/recommendations.title_id"


def _input_version(run: Run, port: str) -> str | None:
    return next((d.version for d in run.inputs if d.port == port), None)


def _runs_reflect(mesh: RunningMesh) -> dict[str, Run] | None:
    """The latest runs, once each one's event names the snapshots its product really read."""
    runs: dict[str, Run] = mesh.catalog.service.latest_runs()
    engagement, recommendations = mesh["engagement.viewing"], mesh["recommendations.next-title"]
    wanted = {
        (VIEWING, f"{PLAYBACK}/history"): engagement.seen.get("playback"),
        (RECOMMENDATIONS, f"{VIEWING}/sessions"): recommendations.seen.get("sessions"),
    }
    for (job, port), snapshot in wanted.items():
        run = runs.get(job)
        if snapshot is None or run is None or _input_version(run, port) != str(snapshot):
            return None
    return runs


def test_every_product_registers_and_reports_its_run(running_mesh: RunningMesh) -> None:
    catalog = running_mesh.catalog.service
    ids = {runtime.product.id for runtime in running_mesh.products.values()}
    eventually(lambda: ids <= set(catalog.latest_runs()) or None, attempts=30, pause_s=1)
    assert {e.id for e in catalog.entries()} >= ids
    for run in catalog.latest_runs().values():
        assert run.state in ("START", "RUNNING") and run.outputs


def test_lineage_from_a_playback_event_to_a_recommendation_is_complete_and_correct(running_mesh: RunningMesh) -> None:
    snapshot = running_mesh.caught_up()
    recommendations = running_mesh["recommendations.next-title"]
    recommendations.refresh_now()  # a model trained on the caught-up sessions
    catalog = running_mesh.catalog.service

    # Product level: the path from the app's telemetry is declared and every hop was observed in a run.
    path = eventually(
        lambda: (p := catalog.lineage().path(TELEMETRY, RECOMMENDATIONS)) and all(e.observed for e in p) and p,
        attempts=30,
        pause_s=1,
    )
    assert [(e.source, e.target) for e in path] == [
        (TELEMETRY, PLAYBACK),
        (PLAYBACK, VIEWING),
        (VIEWING, RECOMMENDATIONS),
    ]
    assert all(e.declared for e in path)

    # Column level: a recommended title comes from the title the app reported, every link observed.
    columns = catalog.column_lineage()
    assert columns.unresolved == []
    chain = columns.upstream(RECOMMENDED_TITLE)
    assert chain and all(e.observed for e in chain)
    assert f"{TELEMETRY}/title_id" in columns.sources(RECOMMENDED_TITLE)
    assert {f"{PLAYBACK}/history.title_id", f"{VIEWING}/sessions.title_id"} <= {e.source for e in chain}

    # Correct: the runs name the very snapshots the products read, and those hold one real event.
    runs = eventually(lambda: _runs_reflect(running_mesh), attempts=30, pause_s=1)
    settings = running_mesh.settings
    event: dict[str, Any] = table_rows(settings, "playback.events_history_v1", snapshot)[0]
    read_by_engagement = int(_input_version(runs[VIEWING], f"{PLAYBACK}/history") or 0)
    assert event["event_id"] in {
        e["event_id"] for e in table_rows(settings, "playback.events_history_v1", read_by_engagement)
    }
    read_by_recommender = int(_input_version(runs[RECOMMENDATIONS], f"{VIEWING}/sessions") or 0)
    sessions = table_rows(settings, "engagement.viewing_sessions_v1", read_by_recommender)
    assert any(
        s["customer_id"] == event["customer_id"]
        and s["title_id"] == event["title_id"]
        and s["started_at"] <= event["occurred_at"] <= s["ended_at"]
        for s in sessions
    ), "the event's viewing session is in the snapshot the recommender read"
    served = {
        r["customer_id"] for r in recommendations.readers["recommendations"].page({}, None, 1000, None, None).items
    }
    assert served, "recommendations are served from that run"


def test_the_cli_traces_a_column_through_the_running_catalog(running_mesh: RunningMesh) -> None:
    env = {"MESH_PRODUCT_CATALOG_URL": running_mesh.catalog.url, "COLUMNS": "250"}
    traced = CliRunner().invoke(app, ["catalog", "lineage", RECOMMENDED_TITLE], env=env)
    assert traced.exit_code == 0, traced.output
    assert f"{TELEMETRY}/title_id" in traced.output and "observed" in traced.output
    unknown = CliRunner().invoke(app, ["catalog", "lineage", "urn:mesh:nobody:nothing:v1"], env=env)
    assert unknown.exit_code == 1 and "no node" in unknown.output
