"""Column-level lineage of the seven real products, declared by their contracts and confirmed by the
OpenLineage run events their SDK builds (made here without servers and fed to the catalog service)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openlineage.client.event_v2 import RunState
from openlineage.client.serde import Serde

from mesh_catalog.api import build_app
from mesh_catalog.column_graph import ColumnGraph
from mesh_catalog.runs import MalformedEvent, parse_event
from mesh_catalog.service import CatalogService
from mesh_config import load_settings
from mesh_sdk.observe.lineage import RunReporter
from mesh_sdk.spec.product import DataProduct, dump, load_product

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TELEMETRY = "kafka:playback.telemetry.raw.v1"
PLAYBACK, VIEWING = "urn:mesh:playback:events:v1", "urn:mesh:engagement:viewing:v1"
RECOMMENDATIONS = "urn:mesh:recommendations:next-title:v1"
RECOMMENDED_TITLE = f"{RECOMMENDATIONS}/recommendations.title_id"


@cache
def _products() -> dict[str, DataProduct]:
    return {f.name: load_product(f) for f in sorted(PRODUCTS.iterdir()) if (f / "dataproduct.yaml").exists()}


class Documents:
    """A DocumentSource that serves each product's discovery document as its REST port would."""

    def fetch(self, url: str) -> Any:
        return dump(_products()[url.removeprefix("http://")]) | {"ports": {}}

    def fetch_observations(self, url: str) -> Any:
        return {}


class MemoryStore:
    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None

    def load(self) -> Any | None:
        return json.loads(json.dumps(self.state)) if self.state else None

    def save(self, state: dict[str, Any]) -> None:
        self.state = state


def catalog(store: MemoryStore | None = None) -> CatalogService:
    service = CatalogService(Documents(), store or MemoryStore(), lambda: NOW)
    for name in _products():
        service.register_url(f"http://{name}")
    return service


@cache
def _reporter(name: str) -> RunReporter:
    """One run per product, as one process of it would have."""
    return RunReporter(_products()[name], load_settings(lineage_url="off"), lambda: {"history": "42"}, lambda: 0)


def run_event(product: DataProduct, state: RunState = RunState.RUNNING) -> dict[str, Any]:
    """The event the product's SDK sends, as JSON on the wire."""
    event: dict[str, Any] = json.loads(Serde.to_json(_reporter(product.folder.name).event(state)))
    return event


def test_every_declared_source_resolves_to_a_real_column() -> None:
    graph = catalog().column_lineage()
    assert graph.unresolved == []
    assert graph.edges, "the contracts declare column lineage"


def test_every_column_says_how_it_is_computed() -> None:
    undocumented = [
        f"{p.id}/{o.name}.{c.name}"
        for p in _products().values()
        for o in p.contract.model.schema_ or []
        for c in o.properties or []
        if not (c.transformSourceObjects or c.transformDescription or c.transformLogic)
    ]
    assert undocumented == []


def test_a_recommended_title_traces_back_to_the_apps_telemetry() -> None:
    graph = catalog().column_lineage()
    assert f"{TELEMETRY}/title_id" in graph.sources(RECOMMENDED_TITLE)
    chain = {e.source for e in graph.upstream(RECOMMENDED_TITLE)}
    assert {f"{PLAYBACK}/history.title_id", f"{VIEWING}/sessions.title_id"} <= chain


def test_the_run_events_confirm_every_link_of_that_chain() -> None:
    service = catalog()
    for product in _products().values():
        service.record_run_event(run_event(product, RunState.START))
        service.record_run_event(run_event(product))
    columns = service.column_lineage()
    chain = columns.upstream(RECOMMENDED_TITLE)
    assert chain and all(e.observed for e in chain), [e for e in chain if not e.observed]
    path = service.lineage().path(TELEMETRY, RECOMMENDATIONS)
    assert path is not None and all(e.observed and e.declared for e in path)
    run = service.latest_runs()[PLAYBACK]
    assert run.state == "RUNNING" and run.events == 2
    assert {d.version for d in run.outputs if d.port == f"{PLAYBACK}/history"} == {"42"}


def test_without_run_events_lineage_is_declared_but_not_observed() -> None:
    path = catalog().lineage().path(TELEMETRY, RECOMMENDATIONS)
    assert path is not None and not any(e.observed for e in path)


def test_a_dependency_only_a_run_shows_is_added_as_undeclared() -> None:
    service = catalog()
    event = run_event(_products()["content-insights.kpis"])
    event["inputs"].append({"namespace": "kafka://127.0.0.1:19092", "name": "marketing.campaigns.v1", "facets": {}})
    service.record_run_event(event)
    edges = [e for e in service.lineage().edges if e.source == "kafka:marketing.campaigns.v1"]
    assert [(e.declared, e.observed, e.target) for e in edges] == [(False, True, "urn:mesh:content-insights:kpis:v1")]


def test_the_latest_runs_survive_a_restart() -> None:
    store = MemoryStore()
    service = catalog(store)
    service.record_run_event(run_event(_products()["playback.events"], RunState.START))
    again = CatalogService(Documents(), store, lambda: NOW)
    again.load()
    assert again.latest_runs()[PLAYBACK].state == "START"


def test_a_finished_run_stays_finished_when_a_late_running_event_arrives() -> None:
    service = catalog()
    product = _products()["playback.events"]
    reporter = RunReporter(product, load_settings(lineage_url="off"), dict, lambda: 0)
    for state in (RunState.START, RunState.COMPLETE, RunState.RUNNING):
        service.record_run_event(json.loads(Serde.to_json(reporter.event(state))))
    assert service.latest_runs()[PLAYBACK].state == "COMPLETE"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.pop("eventTime"), "eventTime"),
        (lambda e: e.update(eventTime="yesterday"), "eventTime"),
        (lambda e: e.update(eventType="DONE"), "eventType"),
        (lambda e: e["run"].pop("runId"), "run.runId"),
        (lambda e: e["job"].update(name=""), "job.name"),
        (lambda e: e.update(inputs={"a": 1}), "inputs"),
        (lambda e: e["outputs"][0]["facets"].update(columnLineage={"fields": []}), "outputs[0].facets.columnLineage"),
    ],
)
def test_a_malformed_event_is_refused_naming_the_field(change: Any, field: str) -> None:
    event = run_event(_products()["engagement.viewing"])
    change(event)
    with pytest.raises(MalformedEvent) as refused:
        parse_event(event)
    assert refused.value.field.startswith(field)


def test_the_api_takes_events_and_answers_column_questions() -> None:
    service = catalog()
    client = TestClient(build_app(service))
    for product in _products().values():
        assert client.post("/api/v1/lineage", json=run_event(product)).status_code == 201
    bad = client.post("/api/v1/lineage", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    missing = client.post("/api/v1/lineage", json={"eventTime": NOW.isoformat(), "run": {}, "job": {}})
    assert missing.status_code == 400 and missing.json()["field"] == "run.runId"

    answer = client.get("/lineage/columns", params={"column": RECOMMENDED_TITLE}).json()
    assert f"{TELEMETRY}/title_id" in answer["sources"]
    assert all(e["observed"] for e in answer["upstream"])
    assert client.get("/lineage/columns", params={"column": "urn:mesh:x:y:v1/t.c"}).status_code == 404
    whole = client.get("/lineage/columns").json()
    assert whole["unresolved"] == [] and len(whole["edges"]) == len(ColumnGraph.build(service.entries()).edges)
    runs = client.get("/lineage/runs").json()
    assert {r["job"] for r in runs} == {p.id for p in _products().values()}
    assert client.get("/lineage/events", params={"limit": 3}).json()[0]["eventType"] == "RUNNING"


def test_graphql_traces_a_column_and_names_a_bad_one() -> None:
    client = TestClient(build_app(catalog()))
    query = "query($c: String!) { columnLineage(column: $c) { sources upstream { source target observed } } }"
    answer = client.post("/graphql", json={"query": query, "variables": {"c": RECOMMENDED_TITLE}}).json()
    assert f"{TELEMETRY}/title_id" in answer["data"]["columnLineage"]["sources"]
    bad = client.post("/graphql", json={"query": query, "variables": {"c": "nope"}}).json()
    assert "a column id reads" in bad["errors"][0]["message"]
    edges = client.post("/graphql", json={"query": "{ lineage { edges { declared observed } } }"}).json()
    assert all(e["declared"] and not e["observed"] for e in edges["data"]["lineage"]["edges"])
