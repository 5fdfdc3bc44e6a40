"""The catalog's GraphQL API at /graphql (in-process, through FastAPI's test client), over the same
service, fake products and policies as the REST API's tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from mesh_catalog.service import CatalogService
from mesh_testing.products import product_folders
from tests.unit.test_catalog_service import (
    NEXT_TITLE,
    PLAYBACK,
    VIEWING,
    FakeProducts,
    api,
    clock,
    observation_report,
    products,
    register_all,
    service,
    store,
)

__all__ = ["api", "clock", "products", "service", "store"]  # the fixtures, used by name

PRODUCT = """
    id domain name type description status lastSeen inputPorts { name kind source port }
    owner { team contact }
    tables { name columns { name logicalType description pii primaryKey } }
    scorecard { grade score qualityPassRate freshnessVerdict compliant }
    violations { policy severity field problem fix }
"""


def query(api: TestClient, text: str, **variables: Any) -> dict[str, Any]:
    response = api.post("/graphql", json={"query": text, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(api: TestClient, text: str, **variables: Any) -> dict[str, Any]:
    body = query(api, text, **variables)
    assert not body.get("errors"), body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def test_products_are_listed_and_filtered(api: TestClient, service: CatalogService) -> None:
    register_all(service)
    listed = data(api, f"{{ products {{ {PRODUCT} }} }}")["products"]
    assert len(listed) == len(product_folders()) and {p["status"] for p in listed} == {"available"}
    viewing = next(p for p in listed if p["id"] == VIEWING)
    assert viewing["domain"] == "engagement" and viewing["owner"]["team"]
    assert PLAYBACK in {p["source"] for p in viewing["inputPorts"]}
    columns = {c["name"]: c for t in viewing["tables"] for c in t["columns"]}
    assert "watch_seconds" in columns and columns["watch_seconds"]["logicalType"]
    engagement = data(api, '{ products(domain: "engagement") { id } }')["products"]
    assert engagement == [{"id": VIEWING}]
    assert data(api, '{ products(status: "unavailable") { id } }')["products"] == []
    algorithms = data(
        api, '{ products(type: "algorithm") { type typeMeaning businessObjective personas { role skills } } }'
    )
    assert {p["type"] for p in algorithms["products"]} == {"decision-support", "ml-model"}
    assert all(
        p["typeMeaning"] and p["businessObjective"] and p["personas"][0]["skills"] for p in algorithms["products"]
    )


def test_search_finds_a_product_by_a_column_name(api: TestClient, service: CatalogService) -> None:
    register_all(service)
    text = (
        "query($q: String!, $domain: String) { search(q: $q, domain: $domain) { product { id name } score matched } }"
    )
    (hit,) = data(api, text, q="watch_seconds")["search"]
    assert hit["product"]["id"] == VIEWING and hit["score"] > 0
    assert hit["matched"][0] == "column watch_seconds of table daily"
    assert data(api, text, q="watch_seconds", domain="playback")["search"] == []


def test_one_product_by_id_and_null_when_unknown(api: TestClient, service: CatalogService) -> None:
    register_all(service)
    text = f"query($id: String!) {{ product(id: $id) {{ {PRODUCT} }} }}"
    one = data(api, text, id=PLAYBACK)["product"]
    assert one["id"] == PLAYBACK and one["violations"] == [] and one["scorecard"]["compliant"]
    assert any(c["pii"] for t in one["tables"] for c in t["columns"])
    assert any(c["primaryKey"] for t in one["tables"] for c in t["columns"])
    assert data(api, text, id="urn:mesh:nope:nope:v1") == {"product": None}
    warned = data(api, text, id=NEXT_TITLE)["product"]
    assert [v["policy"] for v in warned["violations"]] == ["GOV-007"] and warned["violations"][0]["fix"]


def test_lineage_from_playback_reaches_the_recommendations(api: TestClient, service: CatalogService) -> None:
    register_all(service)
    fields = "nodes { id kind label status } edges { source target upstreamPort inputPort }"
    whole = data(api, f"{{ lineage {{ {fields} }} }}")["lineage"]
    assert {n["id"] for n in whole["nodes"]} >= {VIEWING, PLAYBACK, NEXT_TITLE, "kafka:playback.telemetry.raw.v1"}

    around = data(api, f"query($id: String) {{ lineage(id: $id) {{ {fields} }} }}", id=PLAYBACK)["lineage"]
    edges = {(e["source"], e["target"]) for e in around["edges"]}
    assert (PLAYBACK, VIEWING) in edges and (VIEWING, NEXT_TITLE) in edges  # playback → viewing → recommendations
    assert {NEXT_TITLE, VIEWING, PLAYBACK} <= {n["id"] for n in around["nodes"]}
    assert all(e["inputPort"] and e["upstreamPort"] for e in around["edges"])
    domains = data(api, "{ domains { name products } }")["domains"]
    assert {"name": "engagement", "products": [VIEWING]} in domains


def test_a_scorecard_grade_after_a_pull_with_observations(
    api: TestClient, service: CatalogService, products: FakeProducts
) -> None:
    register_all(service)
    products.observations["http://playback.events"] = observation_report(freshness=90.0, passed=(True, False))
    service.pull()
    text = "query($id: String!) { product(id: $id) { scorecard { grade score qualityPassRate freshnessVerdict } } }"
    card = data(api, text, id=PLAYBACK)["product"]["scorecard"]
    assert card["qualityPassRate"] == 0.5 and card["freshnessVerdict"] == "missed"
    expected = service.scorecard(PLAYBACK)
    assert (card["grade"], card["score"]) == (expected.grade, expected.score)
    assert data(api, text, id=VIEWING)["product"]["scorecard"]["grade"] == "A"


def test_the_policies_in_force(api: TestClient, service: CatalogService) -> None:
    policies = data(api, "{ policies { version blob policies { id title severity fix } } }")["policies"]
    assert policies["version"] == service.policies.version and policies["blob"] == service.policies.digest
    assert policies["policies"][0]["id"] == "GOV-001" and policies["policies"][0]["severity"] == "refuse"


def test_a_bad_argument_is_a_graphql_error_saying_what_is_wrong(api: TestClient, service: CatalogService) -> None:
    register_all(service)
    empty = query(api, '{ search(q: " ") { score } }')
    assert empty["data"] is None and empty["errors"][0]["message"] == "q is empty: give the words to search for"
    status = query(api, '{ products(status: "gone") { id } }')
    assert status["errors"][0]["message"] == "status is 'gone', expected one of available, unavailable"
    node = query(api, '{ lineage(id: "kafka:nothing") { nodes { id } } }')
    assert "kafka:nothing" in node["errors"][0]["message"]
    missing = query(api, "{ search { score } }")  # a required argument left out: refused by validation
    assert "q" in missing["errors"][0]["message"]


def test_graphiql_is_served_to_a_browser(api: TestClient) -> None:
    page = api.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
