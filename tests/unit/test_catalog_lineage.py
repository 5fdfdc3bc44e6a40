"""Product-level lineage of the seven real products, from their input-port declarations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mesh_catalog import Catalog, Edge, LineageGraph, UnknownNode
from mesh_sdk.spec.product import dump, load_product
from mesh_testing.products import product_folders

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TELEMETRY = "kafka:playback.telemetry.raw.v1"
PLAYBACK, VIEWING = "urn:mesh:playback:events:v1", "urn:mesh:engagement:viewing:v1"
TITLES, CUSTOMERS = "urn:mesh:content:titles:v1", "urn:mesh:subscriptions:customers:v1"
RECOMMENDATIONS, KPIS = "urn:mesh:recommendations:next-title:v1", "urn:mesh:content-insights:kpis:v1"
PROFILE = "urn:mesh:customers:customer-profile:v1"


@cache
def _documents() -> dict[str, dict[str, Any]]:
    """What each product serves at `GET /`, built the way its REST port builds it, without a server."""
    docs = {}
    for folder in product_folders(PRODUCTS):
        docs[folder.name] = dump(load_product(folder)) | {"ports": {}}
    return docs


def mesh(*names: str) -> Catalog:
    catalog = Catalog()
    for name in names or _documents():
        catalog.register(_documents()[name], f"http://{name}", NOW)
    return catalog


def test_the_path_from_the_playback_apps_telemetry_to_a_recommendation() -> None:
    graph = LineageGraph.build(mesh().all())
    assert graph.path(TELEMETRY, RECOMMENDATIONS) == [
        Edge(TELEMETRY, PLAYBACK, upstream_port="playback.telemetry.raw.v1", input_port="telemetry"),
        Edge(PLAYBACK, VIEWING, upstream_port="history", input_port="playback"),
        Edge(VIEWING, RECOMMENDATIONS, upstream_port="sessions", input_port="sessions"),
    ]
    assert graph.path(RECOMMENDATIONS, TELEMETRY) is None


def test_every_product_and_every_external_source_is_a_node() -> None:
    catalog = mesh()
    graph = LineageGraph.build(catalog.all())
    products = {n.id for n in graph.nodes.values() if n.kind == "product"}
    assert products == {e.id for e in catalog.all()}
    assert {n.label for n in graph.nodes.values() if n.kind != "product"} == {
        "playback.telemetry.raw.v1",
        "content.outbox.title",
        "legacy.public.customers",
        "legacy.public.subscriptions",
        "crm.public.contacts",
        "subscriptions.outbox.subscription",
    }
    assert graph.nodes["cdc:legacy.public.customers"].kind == "cdc"
    picture = json.loads(json.dumps(graph.as_dict()))
    assert len(picture["nodes"]) == 16 and len(picture["edges"]) == 19


def test_an_input_port_a_product_reads_no_more_leaves_its_lineage() -> None:
    """subscriptions.subscriptions during a strangler-fig migration reads the monolith and the service;
    once the monolith said its last word, only the service."""
    monolith, service = "cdc:legacy.public.subscriptions", "cdc:subscriptions.outbox.subscription"
    subscriptions = "urn:mesh:subscriptions:subscriptions:v1"
    during = LineageGraph.build(mesh().all())
    assert {e.source for e in during.upstream(subscriptions)} == {monolith, service}
    catalog = Catalog()
    for name, doc in _documents().items():
        if name == "subscriptions.subscriptions":
            doc = doc | {"inputs": {"subscriptions-cdc": "retired", "subscriptions-service": "reading"}}
        catalog.register(doc, f"http://{name}", NOW)
    after = LineageGraph.build(catalog.all())
    assert {e.source for e in after.upstream(subscriptions)} == {service}
    assert monolith not in after.nodes, "nothing else reads the monolith's subscriptions"


def test_upstream_and_downstream_follow_every_hop() -> None:
    graph = LineageGraph.build(mesh().all())
    assert {e.source for e in graph.upstream(RECOMMENDATIONS)} == {
        VIEWING,
        TITLES,
        PLAYBACK,
        CUSTOMERS,
        TELEMETRY,
        "cdc:content.outbox.title",
        "cdc:legacy.public.customers",
    }
    assert graph.upstream(RECOMMENDATIONS)[0].target == RECOMMENDATIONS  # nearest first
    assert {e.target for e in graph.downstream(PLAYBACK)} == {VIEWING, RECOMMENDATIONS, KPIS, PROFILE}
    assert [e.target for e in graph.downstream(RECOMMENDATIONS)] == [PROFILE]
    with pytest.raises(UnknownNode, match="urn:mesh:nope:nope:v1"):
        graph.upstream("urn:mesh:nope:nope:v1")


def test_products_not_registered_or_gone_stay_in_the_picture() -> None:
    catalog = mesh("engagement.viewing")
    catalog.unreachable(VIEWING, "connection refused", NOW)
    graph = LineageGraph.build(catalog.all())
    assert graph.nodes[VIEWING].status == "unavailable"
    assert graph.nodes[PLAYBACK].status == "unknown" and graph.nodes[PLAYBACK].label == "playback.events"
