"""The catalog service with real products on the session's stack: products push their registration at
start, the catalog's pull notices one that stopped, and a restarted catalog remembers them all.

The catalog runs in this process on the session's catalog port (where the products' settings send their
registration); every product started here is stopped at the end of this module, before any other's."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesh_catalog.server import CatalogServer, state_path
from mesh_config import MeshSettings
from mesh_stack import Stack
from mesh_testing.products import eventually, running_product

pytestmark = pytest.mark.integration

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
PLAYBACK, CUSTOMERS = "urn:mesh:playback:events:v1", "urn:mesh:subscriptions:customers:v1"
PULL_EVERY_S = 1.0


class Mesh:
    """The catalog and the products of this module, each stoppable on its own."""

    def __init__(self, settings: MeshSettings) -> None:
        self.settings = settings
        self.catalog = self.start_catalog()
        self.products: dict[str, Any] = {}
        self._running: dict[str, ExitStack] = {}

    def start_catalog(self) -> CatalogServer:
        server = CatalogServer(self.settings, pull_every_s=PULL_EVERY_S)
        server.start()
        return server

    def start_product(self, name: str, settings: MeshSettings) -> None:
        stack = ExitStack()
        self.products[name] = stack.enter_context(
            running_product(PRODUCTS / name, settings, batch_interval_s=0.5, observe_interval_s=1.0)
        )
        self._running[name] = stack

    def stop_product(self, name: str) -> None:
        self._running.pop(name).close()

    def url(self, name: str) -> str:
        return f"http://{self.settings.host}:{self.products[name].options.http_port}"

    def stop(self) -> None:
        for name in list(self._running):
            self.stop_product(name)
        self.catalog.stop()


@pytest.fixture(scope="module")
def mesh(embedded_stack: Stack, legacy_capture: MeshSettings) -> Iterator[Mesh]:
    settings = embedded_stack.settings
    state_path(settings).unlink(missing_ok=True)  # registrations of an earlier session's products
    mesh = Mesh(settings)
    try:
        mesh.start_product("playback.events", settings)
        mesh.start_product("subscriptions.customers", legacy_capture)
        yield mesh
    finally:
        mesh.stop()


@pytest.fixture(scope="module")
def http(mesh: Mesh) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mesh.settings.product_catalog_endpoint, timeout=30) as client:
        yield client


def listed(http: httpx.Client) -> dict[str, dict[str, Any]]:
    response = http.get("/products")
    response.raise_for_status()
    return {p["id"]: p for p in response.json()}


def test_products_register_themselves_when_they_start(mesh: Mesh, http: httpx.Client) -> None:
    def both() -> dict[str, dict[str, Any]] | None:
        products = listed(http)
        return products if {PLAYBACK, CUSTOMERS} <= products.keys() else None

    products = eventually(both)
    assert products[PLAYBACK]["url"] == mesh.url("playback.events")
    assert products[CUSTOMERS]["url"] == mesh.url("subscriptions.customers")
    assert {p["status"] for p in products.values()} == {"available"}
    assert http.get("/domains").json() == {"playback": [PLAYBACK], "subscriptions": [CUSTOMERS]}
    page = http.get(f"/products/{PLAYBACK}").json()
    assert page["document"]["ports"]["rest"].startswith(mesh.url("playback.events"))


def test_search_finds_a_product_by_one_of_its_column_names(mesh: Mesh, http: httpx.Client) -> None:
    (hit,) = http.get("/search", params={"q": "birth_year"}).json()
    assert hit["id"] == CUSTOMERS and hit["matches"][0] == "column birth_year of table customers"
    (hit,) = http.get("/search", params={"q": "position_ms"}).json()
    assert hit["id"] == PLAYBACK


def test_lineage_names_the_products_sources(mesh: Mesh, http: httpx.Client) -> None:
    playback = http.get(f"/lineage/{PLAYBACK}").json()
    assert [e["source"] for e in playback["upstream"]] == ["kafka:playback.telemetry.raw.v1"]
    customers = http.get(f"/lineage/{CUSTOMERS}").json()
    assert [e["source"] for e in customers["upstream"]] == ["cdc:legacy.public.customers"]


def test_a_malformed_registration_is_refused_naming_the_field(mesh: Mesh, http: httpx.Client) -> None:
    document = copy.deepcopy(httpx.get(f"{mesh.url('playback.events')}/", timeout=30).json())
    document["descriptor"]["owner"] = "the playback team"
    response = http.post("/products", json={"url": "http://127.0.0.1:1", "document": document})
    assert response.status_code == 400
    assert response.json()["field"] == "descriptor.owner"
    assert "descriptor.owner is a string, expected an object" in response.json()["error"]
    unreachable = http.post("/products", json={"url": "http://127.0.0.1:1"})
    assert unreachable.status_code == 422 and "http://127.0.0.1:1/" in unreachable.json()["error"]
    assert listed(http).keys() == {PLAYBACK, CUSTOMERS}


def test_governance_passes_the_running_products_and_refuses_a_violating_push(mesh: Mesh, http: httpx.Client) -> None:
    # The products' real ports (topics, tables) are checked against the naming conventions too.
    current = {p["product"]: p for p in http.get("/violations").json()["products"]}
    assert current.keys() == {PLAYBACK, CUSTOMERS}
    assert all(p["compliant"] and p["violations"] == [] for p in current.values()), current
    assert {p["id"] for p in http.get("/policies").json()["policies"]} >= {"GOV-001", "GOV-006"}

    document = copy.deepcopy(httpx.get(f"{mesh.url('playback.events')}/", timeout=30).json())
    del document["descriptor"]["owner"]
    document["ports"]["stream"] = "kafka://127.0.0.1:1/playback-events"
    response = http.post("/products", json={"url": "http://127.0.0.1:1", "document": document})
    assert response.status_code == 422
    assert [(v["policy"], v["field"]) for v in response.json()["violations"]] == [
        ("GOV-001", "descriptor.owner"),
        ("GOV-006", "ports.stream"),
    ]
    assert listed(http)[PLAYBACK]["url"] == mesh.url("playback.events")


def test_a_running_products_scorecard_reads_its_observations(mesh: Mesh, http: httpx.Client) -> None:
    def observed() -> dict[str, Any] | None:
        card = http.get(f"/products/{CUSTOMERS}/scorecard").json()
        known = card["quality"]["pass_rate"] is not None and card["freshness"]["verdict"] != "unknown"
        return card if known else None

    card = eventually(observed)
    assert 0.0 <= card["quality"]["pass_rate"] <= 1.0 and card["quality"]["checks"] > 0
    assert card["freshness"]["verdict"] in ("met", "missed") and card["freshness"]["objective_seconds"] == 60.0
    assert card["available"] and card["compliance"]["compliant"] and card["completeness"]["score"] == 1.0
    assert card["grade"] in "ABCD" and card["observed_at"]
    assert {c["product"] for c in http.get("/scorecards").json()} == {PLAYBACK, CUSTOMERS}


def test_a_stopped_product_is_shown_unavailable_not_deleted(mesh: Mesh, http: httpx.Client) -> None:
    mesh.stop_product("playback.events")

    def unavailable() -> dict[str, Any] | None:
        playback = listed(http)[PLAYBACK]
        return playback if playback["status"] == "unavailable" else None

    gone = eventually(unavailable)
    assert "does not answer" in gone["last_error"] and gone["unavailable_since"] >= gone["last_seen"]
    assert listed(http)[CUSTOMERS]["status"] == "available"
    assert [p["id"] for p in http.get("/products", params={"status": "unavailable"}).json()] == [PLAYBACK]
    assert http.get("/search", params={"q": "position_ms"}).json()[0]["product"]["status"] == "unavailable"


def test_a_restarted_catalog_reloads_its_registrations(mesh: Mesh, http: httpx.Client) -> None:
    before = listed(http)
    mesh.catalog.stop()
    with pytest.raises(httpx.ConnectError):
        http.get("/health")
    mesh.catalog = mesh.start_catalog()
    after = listed(http)
    assert after.keys() == {PLAYBACK, CUSTOMERS}
    assert after[PLAYBACK]["status"] == "unavailable"
    assert after[PLAYBACK]["unavailable_since"] == before[PLAYBACK]["unavailable_since"]
    # The running product is re-read by the restarted catalog's first pull, without registering again.
    eventually(lambda: listed(http)[CUSTOMERS]["last_seen"] > before[CUSTOMERS]["last_seen"] or None)
    assert listed(http)[CUSTOMERS]["status"] == "available"
