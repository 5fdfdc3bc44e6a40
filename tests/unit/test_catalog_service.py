"""The catalog service without servers: pushes, pulls, persistence across restarts, and its REST API
(in-process, through FastAPI's test client), with the seven real products' documents and fake ports."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mesh_catalog import Status
from mesh_catalog.adapters import JsonFileStore
from mesh_catalog.api import build_app
from mesh_catalog.records import UnreadableState, dump_state, load_state
from mesh_catalog.service import CatalogService, FetchFailed
from mesh_sdk.product import dump, load_product

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
VIEWING, PLAYBACK = "urn:mesh:engagement:viewing:v1", "urn:mesh:playback:events:v1"


@cache
def _documents() -> dict[str, dict[str, Any]]:
    """What each product serves at `GET /`, by base URL, built without a server."""
    docs = {}
    for folder in sorted(p for p in PRODUCTS.iterdir() if (p / "dataproduct.yaml").exists()):
        docs[f"http://{folder.name}"] = dump(load_product(folder)) | {"ports": {}}
    return docs


class FakeProducts:
    """The discovery ports: every real product answers until it is stopped."""

    def __init__(self) -> None:
        self.documents = copy.deepcopy(_documents())
        self.stopped: set[str] = set()
        self.fetched: list[str] = []

    def fetch(self, url: str) -> Any:
        self.fetched.append(url)
        if url in self.stopped or url not in self.documents:
            raise FetchFailed(f"{url}/", "does not answer (connection refused or host unknown)")
        return copy.deepcopy(self.documents[url])


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 10) -> None:
        self.now += timedelta(seconds=seconds)


class CountingStore(JsonFileStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.saves = 0

    def save(self, state: dict[str, Any]) -> None:
        self.saves += 1
        super().save(state)


@pytest.fixture
def products() -> FakeProducts:
    return FakeProducts()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    return CountingStore(tmp_path / "catalog" / "registrations.json")


@pytest.fixture
def service(products: FakeProducts, store: CountingStore, clock: Clock) -> CatalogService:
    return CatalogService(products, store, clock)


@pytest.fixture
def api(service: CatalogService) -> TestClient:
    return TestClient(build_app(service))


def register_all(service: CatalogService) -> None:
    for url in _documents():
        service.register_url(url)


# --- the service ---------------------------------------------------------------------------------------


def test_a_pushed_url_is_read_and_listed(service: CatalogService, products: FakeProducts) -> None:
    entry = service.register_url("http://engagement.viewing")
    assert entry.id == VIEWING and products.fetched == ["http://engagement.viewing"]
    assert [e.id for e in service.entries()] == [VIEWING]


def test_a_pull_marks_a_product_that_went_away_unavailable_and_keeps_it(
    service: CatalogService, products: FakeProducts, clock: Clock
) -> None:
    register_all(service)
    products.stopped.add("http://playback.events")
    clock.tick()
    report = service.pull()
    assert report.unavailable == [PLAYBACK] and len(report.refreshed) == 6
    gone = service.entry(PLAYBACK)
    assert gone.availability.status is Status.UNAVAILABLE
    assert gone.availability.last_seen == START and gone.availability.unavailable_since == clock.now
    assert "http://playback.events/ does not answer" in (gone.availability.last_error or "")
    assert len(service.entries()) == 7 and [e.id for e in service.entries(status=Status.UNAVAILABLE)] == [PLAYBACK]

    products.stopped.clear()
    clock.tick()
    service.pull()
    back = service.entry(PLAYBACK).availability
    assert back.status is Status.AVAILABLE and back.last_seen == clock.now


def test_a_pull_that_reads_a_broken_document_marks_the_product_unavailable(
    service: CatalogService, products: FakeProducts
) -> None:
    service.register_url("http://engagement.viewing")
    del products.documents["http://engagement.viewing"]["descriptor"]["domain"]
    service.pull()
    availability = service.entry(VIEWING).availability
    assert availability.status is Status.UNAVAILABLE and "descriptor.domain is missing" in (
        availability.last_error or ""
    )


def test_registrations_survive_a_restart_as_they_were(
    service: CatalogService, products: FakeProducts, store: CountingStore, clock: Clock
) -> None:
    register_all(service)
    products.stopped.add("http://playback.events")
    clock.tick()
    service.pull()

    restarted = CatalogService(FakeProducts(), JsonFileStore(store.path), clock)
    assert restarted.load() == 7
    assert [e.id for e in restarted.entries()] == [e.id for e in service.entries()]
    gone = restarted.entry(PLAYBACK).availability
    assert gone.status is Status.UNAVAILABLE and gone.unavailable_since == clock.now and gone.last_seen == START
    assert restarted.entry(VIEWING).url == "http://engagement.viewing"
    assert restarted.entry(VIEWING).document == service.entry(VIEWING).document


def test_the_file_is_written_when_something_changed_not_at_every_pull(
    service: CatalogService, products: FakeProducts, store: CountingStore, clock: Clock
) -> None:
    register_all(service)
    assert store.saves == 7
    for _ in range(3):
        clock.tick()
        service.pull()
    assert store.saves == 7  # only last_seen moved
    products.stopped.add("http://content.titles")
    service.pull()
    service.pull()
    assert store.saves == 8  # once when it went away; "unavailable since" does not move
    assert not list(store.path.parent.glob(".*.tmp")), "the scratch file is renamed over the state"


def test_an_unreadable_state_file_stops_the_start_naming_it(tmp_path: Path, products: FakeProducts) -> None:
    path = tmp_path / "registrations.json"
    path.write_text('{"version": 1, "products": [')
    with pytest.raises(UnreadableState, match=r"registrations\.json is not JSON"):
        CatalogService(products, JsonFileStore(path)).load()


def test_saved_state_is_checked_field_by_field() -> None:
    with pytest.raises(UnreadableState, match=r"products\[0\].last_seen"):
        load_state({"version": 1, "products": [{"url": "http://a", "document": {}, "status": "available"}]})
    with pytest.raises(UnreadableState, match="version"):
        load_state({"version": 2, "products": []})
    assert load_state(json.loads(json.dumps(dump_state([])))) == []


def test_a_saved_document_that_no_longer_reads_is_skipped_not_fatal(tmp_path: Path, products: FakeProducts) -> None:
    path = tmp_path / "registrations.json"
    saved = {"url": "http://x", "document": {"descriptor": {}}, "status": "available", "last_seen": START.isoformat()}
    path.write_text(json.dumps({"version": 1, "products": [saved]}))
    assert CatalogService(products, JsonFileStore(path)).load() == 0


# --- the REST API --------------------------------------------------------------------------------------


def test_push_by_url_answers_201_with_the_entry(api: TestClient) -> None:
    response = api.post("/products", json={"url": "http://engagement.viewing/"})
    assert response.status_code == 201
    body = response.json()
    assert body["id"] == VIEWING and body["status"] == "available" and body["url"] == "http://engagement.viewing"
    assert "watch_seconds" in {c["name"] for c in body["columns"]} and body["tables"] == ["daily", "sessions"]
    assert "document" not in body


def test_push_with_the_document(api: TestClient) -> None:
    document = _documents()["http://playback.events"]
    response = api.post("/products", json={"url": "http://elsewhere:1", "document": document})
    assert response.status_code == 201 and response.json()["url"] == "http://elsewhere:1"


def test_a_malformed_document_is_refused_naming_the_field(api: TestClient) -> None:
    document = copy.deepcopy(_documents()["http://playback.events"])
    document["descriptor"]["inputPorts"][0]["kind"] = "ftp"
    response = api.post("/products", json={"url": "http://playback.events", "document": document})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "descriptor.inputPorts[0].kind" and "'ftp'" in body["error"]
    assert api.get("/products").json() == []


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "url", "Field required"),
        ({"url": "playback.events"}, "url", "expected a product's base URL"),
        ({"url": "ftp://host"}, "url", "expected a product's base URL"),
        ({"url": "http://x", "document": [1]}, "document", "valid dictionary"),
        ({"url": "http://x", "extra": 1}, "extra", "Extra inputs"),
    ],
)
def test_bad_registrations_are_400_naming_the_field(api: TestClient, body: Any, field: str, words: str) -> None:
    response = api.post("/products", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field and words in response.json()["error"]


def test_a_product_that_cannot_be_read_is_502_naming_its_url(api: TestClient) -> None:
    response = api.post("/products", json={"url": "http://nowhere:9"})
    assert response.status_code == 502
    assert "http://nowhere:9/ does not answer" in response.json()["error"]


def test_listing_filters_and_one_product(api: TestClient, service: CatalogService, products: FakeProducts) -> None:
    register_all(service)
    assert len(api.get("/products").json()) == 7
    assert [p["id"] for p in api.get("/products", params={"domain": "engagement"}).json()] == [VIEWING]
    assert {p["type"] for p in api.get("/products", params={"type": "derived"}).json()} == {"derived"}
    products.stopped.add("http://playback.events")
    service.pull()
    assert [p["id"] for p in api.get("/products", params={"status": "unavailable"}).json()] == [PLAYBACK]
    bad = api.get("/products", params={"status": "gone"})
    assert bad.status_code == 400 and bad.json()["field"] == "status"

    one = api.get(f"/products/{VIEWING}").json()
    assert one["id"] == VIEWING and one["document"]["descriptor"]["id"] == VIEWING
    missing = api.get("/products/urn:mesh:nope:nope:v1")
    assert missing.status_code == 404 and "urn:mesh:nope:nope:v1" in missing.json()["error"]


def test_search_domains_and_lineage(api: TestClient, service: CatalogService) -> None:
    register_all(service)
    (hit,) = api.get("/search", params={"q": "watch_seconds"}).json()
    assert hit["id"] == VIEWING and hit["matches"][0] == "column watch_seconds of table daily"
    assert api.get("/search", params={"q": "watch_seconds", "domain": "playback"}).json() == []
    empty = api.get("/search", params={"q": " "})
    assert empty.status_code == 400 and empty.json()["field"] == "q"
    assert api.get("/search").json()["field"] == "q"

    assert api.get("/domains").json()["engagement"] == [VIEWING]
    graph = api.get("/lineage").json()
    assert {n["id"] for n in graph["nodes"]} >= {VIEWING, PLAYBACK, "kafka:playback.telemetry.raw.v1"}
    viewing = api.get(f"/lineage/{VIEWING}").json()
    assert viewing["node"]["kind"] == "product"
    assert PLAYBACK in {e["source"] for e in viewing["upstream"]}
    assert "urn:mesh:recommendations:next-title:v1" in {e["target"] for e in viewing["downstream"]}
    assert api.get("/lineage/kafka:nothing").status_code == 404


def test_health_counts_products(api: TestClient, service: CatalogService) -> None:
    service.register_url("http://engagement.viewing")
    health = api.get("/health").json()
    assert health["status"] == "ok" and health["products"] == 1 and health["available"] == 1


# --- a product's push ----------------------------------------------------------------------------------


def test_a_product_carries_on_when_no_catalog_answers(caplog: pytest.LogCaptureFixture) -> None:
    from mesh_sdk.registration import register_with_catalog
    from mesh_sdk.testing import free_port

    caplog.set_level(logging.INFO, logger="mesh_sdk.registration")
    assert register_with_catalog(f"http://127.0.0.1:{free_port()}", "http://127.0.0.1:1", timeout_s=2) is False
    (record,) = caplog.records
    assert record.levelno == logging.INFO and "no data product catalog at" in record.getMessage()
