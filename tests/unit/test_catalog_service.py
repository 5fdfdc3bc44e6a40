"""The catalog service without servers: pushes, pulls, persistence across restarts, and its REST API
(in-process, through FastAPI's test client), with the real products' documents and fake ports."""

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
from mesh_catalog.service import CatalogService, FetchFailed, RegistrationRefused
from mesh_governance import PolicySet, load_policies
from mesh_sdk.spec.product import dump, load_product
from mesh_testing.products import product_folders

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
ALL = len(product_folders(PRODUCTS))  # the real products, whose documents the service serves
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
VIEWING, PLAYBACK = "urn:mesh:engagement:viewing:v1", "urn:mesh:playback:events:v1"
NEXT_TITLE = "urn:mesh:recommendations:next-title:v1"
POLICIES = Path(__file__).resolve().parents[2] / "governance" / "policies.yaml"


@cache
def _policies() -> PolicySet:
    return load_policies(POLICIES)


@cache
def _documents() -> dict[str, dict[str, Any]]:
    """What each product serves at `GET /`, by base URL, built without a server."""
    docs = {}
    for folder in product_folders(PRODUCTS):
        docs[f"http://{folder.name}"] = dump(load_product(folder)) | {"ports": {}}
    return docs


def observation_report(freshness: float | None = 5.0, passed: tuple[bool, ...] = (True, True)) -> dict[str, Any]:
    """An observation port's answer, in the shape of `Observer.report()` (the parts a scorecard reads)."""
    quality = [{"check": f"check_{i}", "description": "", "value": 0, "passed": p} for i, p in enumerate(passed)]
    return {"observed_at": START.isoformat(), "freshness_seconds": freshness, "quality": quality, "volumes": {}}


class FakeProducts:
    """The discovery and observation ports: every real product answers until it is stopped; the
    observation port answers what `observations` holds for it (HTTP 404 when nothing)."""

    def __init__(self) -> None:
        self.documents = copy.deepcopy(_documents())
        self.observations: dict[str, Any] = {url: observation_report() for url in self.documents}
        self.stopped: set[str] = set()
        self.fetched: list[str] = []

    def fetch(self, url: str) -> Any:
        self.fetched.append(url)
        if url in self.stopped or url not in self.documents:
            raise FetchFailed(f"{url}/", "does not answer (connection refused or host unknown)")
        return copy.deepcopy(self.documents[url])

    def fetch_observations(self, url: str) -> Any:
        self.fetched.append(f"{url}/observations")
        if url in self.stopped or url not in self.observations:
            raise FetchFailed(f"{url}/observations", "answered HTTP 404, expected 200 with an observation report")
        return copy.deepcopy(self.observations[url])


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
    return CatalogService(products, store, clock, policies=_policies())


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
    assert report.unavailable == [PLAYBACK] and len(report.refreshed) == ALL - 1
    gone = service.entry(PLAYBACK)
    assert gone.availability.status is Status.UNAVAILABLE
    assert gone.availability.last_seen == START and gone.availability.unavailable_since == clock.now
    assert "http://playback.events/ does not answer" in (gone.availability.last_error or "")
    assert len(service.entries()) == ALL and [e.id for e in service.entries(status=Status.UNAVAILABLE)] == [PLAYBACK]

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

    restarted = CatalogService(FakeProducts(), JsonFileStore(store.path), clock, policies=_policies())
    assert restarted.load() == ALL
    assert [e.id for e in restarted.entries()] == [e.id for e in service.entries()]
    gone = restarted.entry(PLAYBACK).availability
    assert gone.status is Status.UNAVAILABLE and gone.unavailable_since == clock.now and gone.last_seen == START
    assert restarted.entry(VIEWING).url == "http://engagement.viewing"
    assert restarted.entry(VIEWING).document == service.entry(VIEWING).document


def test_the_file_is_written_when_something_changed_not_at_every_pull(
    service: CatalogService, products: FakeProducts, store: CountingStore, clock: Clock
) -> None:
    register_all(service)
    assert store.saves == ALL
    for _ in range(3):
        clock.tick()
        service.pull()
    assert store.saves == ALL  # only last_seen moved
    products.stopped.add("http://content.titles")
    service.pull()
    service.pull()
    assert store.saves == ALL + 1  # once when it went away; "unavailable since" does not move
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


def test_a_product_that_cannot_be_read_is_422_naming_its_url(api: TestClient) -> None:
    response = api.post("/products", json={"url": "http://nowhere:9"})
    assert response.status_code == 422 and response.json()["field"] == "url"
    assert "http://nowhere:9/ does not answer" in response.json()["error"]


def test_listing_filters_and_one_product(api: TestClient, service: CatalogService, products: FakeProducts) -> None:
    register_all(service)
    assert len(api.get("/products").json()) == ALL
    assert [p["id"] for p in api.get("/products", params={"domain": "engagement"}).json()] == [VIEWING]
    assert {p["type"] for p in api.get("/products", params={"type": "derived"}).json()} == {"derived"}
    algorithms = api.get("/products", params={"type": "algorithm"}).json()
    assert {p["type"] for p in algorithms} == {"decision-support", "ml-model"}
    assert all(p["type_meaning"].startswith("an algorithm for") for p in algorithms)
    assert all(p["business_objective"] and p["personas"][0]["skills"] for p in algorithms)
    wrong = api.get("/products", params={"type": "spreadsheet"})
    assert wrong.status_code == 400 and wrong.json()["field"] == "type" and "hybrid" in wrong.json()["error"]
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


# --- governance ----------------------------------------------------------------------------------------


def broken_playback() -> dict[str, Any]:
    """playback.events with no owner, its PII column unclassified, a bad id and no freshness SLO."""
    document = copy.deepcopy(_documents()["http://playback.events"])
    del document["descriptor"]["owner"]
    del document["contract"]["schema"][0]["properties"][8]["classification"]  # country
    document["descriptor"]["id"] = document["contract"]["id"] = "urn:mesh:playback:events"
    del document["descriptor"]["slos"]["freshness_seconds"]
    return document


def test_a_registration_that_violates_a_policy_is_refused_and_the_fixed_one_accepted(
    service: CatalogService, products: FakeProducts
) -> None:
    products.documents["http://playback.events"] = broken_playback()
    with pytest.raises(RegistrationRefused) as caught:
        service.register_url("http://playback.events")
    assert [(v.policy, v.field) for v in caught.value.violations] == [
        ("GOV-001", "descriptor.owner"),
        ("GOV-002", "contract.schema[0].properties[8].classification"),
        ("GOV-005", "descriptor.slos.freshness_seconds"),
        ("GOV-006", "descriptor.id"),
    ]
    assert caught.value.product_id == "urn:mesh:playback:events"
    assert "refused: 4 violation(s) of GOV-001, GOV-002, GOV-005, GOV-006" in str(caught.value)
    assert service.entries() == []

    products.documents["http://playback.events"] = copy.deepcopy(_documents()["http://playback.events"])
    assert service.register_url("http://playback.events").id == PLAYBACK
    assert service.compliance(PLAYBACK).violations == ()


def test_a_refused_push_leaves_the_registered_product_as_it_was(service: CatalogService) -> None:
    service.register_url("http://playback.events")
    broken = copy.deepcopy(_documents()["http://playback.events"])
    broken["contract"]["schema"][0]["properties"][8]["primaryKey"] = True  # country, PII, as a key
    with pytest.raises(RegistrationRefused, match=r"GOV-003 contract\.schema\[0\]\.properties\[8\]\.primaryKey"):
        service.register_document(broken, "http://elsewhere")
    assert service.entry(PLAYBACK).url == "http://playback.events"


def test_warnings_are_accepted_and_kept_with_the_product(service: CatalogService) -> None:
    entry = service.register_url("http://recommendations.next-title")
    (warning,) = service.compliance(entry.id).violations
    assert (warning.policy, warning.severity.value, warning.field) == ("GOV-007", "warn", "contract.slaProperties")
    assert not service.compliance(entry.id).refusing


def test_a_pull_records_violations_that_appear_after_registration_and_keeps_the_product(
    service: CatalogService, products: FakeProducts, clock: Clock
) -> None:
    register_all(service)
    del products.documents["http://engagement.viewing"]["descriptor"]["owner"]
    clock.tick()
    report = service.pull()
    assert VIEWING in report.refreshed
    entry, compliance = service.entry(VIEWING), service.compliance(VIEWING)
    assert entry.availability.status is Status.AVAILABLE and entry.owner is None
    assert [(v.policy, v.field) for v in compliance.refusing] == [("GOV-001", "descriptor.owner")]
    assert compliance.evaluated_at == clock.now

    products.documents["http://engagement.viewing"] = copy.deepcopy(_documents()["http://engagement.viewing"])
    service.pull()
    assert service.compliance(VIEWING).violations == ()


def test_a_restarted_catalog_evaluates_what_it_reloads(
    service: CatalogService, store: CountingStore, clock: Clock
) -> None:
    register_all(service)
    restarted = CatalogService(FakeProducts(), JsonFileStore(store.path), clock, policies=_policies())
    restarted.load()
    assert {p: [v.policy for v in c.violations] for p, c in restarted.violations().items() if c.violations} == {
        NEXT_TITLE: ["GOV-007"]
    }


def test_the_api_refuses_a_violating_registration_with_422_listing_the_violations(api: TestClient) -> None:
    response = api.post("/products", json={"url": "http://playback.events", "document": broken_playback()})
    assert response.status_code == 422
    body = response.json()
    assert body["product"] == "urn:mesh:playback:events" and body["field"] == "descriptor.owner"
    assert "violates 4 governance policies" in body["error"]
    assert [(v["policy"], v["severity"], v["product"], v["field"]) for v in body["violations"]] == [
        ("GOV-001", "refuse", "urn:mesh:playback:events", "descriptor.owner"),
        ("GOV-002", "refuse", "urn:mesh:playback:events", "contract.schema[0].properties[8].classification"),
        ("GOV-005", "refuse", "urn:mesh:playback:events", "descriptor.slos.freshness_seconds"),
        ("GOV-006", "refuse", "urn:mesh:playback:events", "descriptor.id"),
    ]
    assert all(v["fix"] and v["problem"] and v["title"] for v in body["violations"])
    assert api.get("/products").json() == []

    fixed = api.post(
        "/products", json={"url": "http://playback.events", "document": _documents()["http://playback.events"]}
    )
    assert fixed.status_code == 201 and fixed.json()["id"] == PLAYBACK and fixed.json()["violations"] == []


def test_the_api_serves_the_policies_and_the_violations(
    api: TestClient, service: CatalogService, products: FakeProducts
) -> None:
    policies = api.get("/policies").json()
    assert policies["version"] == _policies().version and policies["digest"] == _policies().digest
    assert [p["id"] for p in policies["policies"]][:2] == ["GOV-001", "GOV-002"]
    assert {"id", "title", "severity", "rationale", "fix"} <= policies["policies"][0].keys()

    register_all(service)
    del products.documents["http://engagement.viewing"]["descriptor"]["slos"]
    service.pull()
    everything = api.get("/violations").json()
    assert everything["policies"] == {"version": _policies().version, "digest": _policies().digest}
    by_product = {p["product"]: p for p in everything["products"]}
    assert len(by_product) == ALL and by_product[PLAYBACK]["violations"] == [] and by_product[PLAYBACK]["compliant"]
    viewing = by_product[VIEWING]
    assert not viewing["compliant"] and viewing["status"] == "available"
    assert [(v["policy"], v["field"]) for v in viewing["violations"]] == [("GOV-005", "descriptor.slos")]
    refusing = api.get("/violations", params={"severity": "refuse", "only_violating": True}).json()["products"]
    assert [p["product"] for p in refusing] == [VIEWING]
    warned = api.get("/violations", params={"severity": "warn", "only_violating": True}).json()["products"]
    assert [p["product"] for p in warned] == [NEXT_TITLE]
    assert api.get("/violations", params={"product": NEXT_TITLE}).json()["products"][0]["violations"][0]["policy"] == (
        "GOV-007"
    )
    assert api.get("/violations", params={"severity": "fatal"}).status_code == 400
    assert api.get("/violations", params={"product": "urn:mesh:nope:nope:v1"}).status_code == 404
    assert api.get(f"/products/{VIEWING}").json()["violations"][0]["policy"] == "GOV-005"
    listed = {p["id"]: p["violations"] for p in api.get("/products").json()}
    assert listed[NEXT_TITLE][0]["severity"] == "warn"


# --- a product's push ----------------------------------------------------------------------------------


def test_a_product_carries_on_when_no_catalog_answers(caplog: pytest.LogCaptureFixture) -> None:
    from mesh_sdk.runtime.registration import register_with_catalog
    from mesh_testing.products import free_port

    caplog.set_level(logging.INFO, logger="mesh_sdk.runtime.registration")
    assert register_with_catalog(f"http://127.0.0.1:{free_port()}", "http://127.0.0.1:1", timeout_s=2) is False
    (record,) = caplog.records
    assert record.levelno == logging.INFO and "no data product catalog at" in record.getMessage()


# --- scorecards ----------------------------------------------------------------------------------------


def test_a_pull_reads_each_available_products_observations_for_its_scorecard(
    service: CatalogService, products: FakeProducts
) -> None:
    register_all(service)
    before = service.scorecard(PLAYBACK)
    assert before.quality.pass_rate is None and before.freshness.verdict.value == "unknown"
    products.observations["http://playback.events"] = observation_report(freshness=90.0, passed=(True, False))
    products.stopped.add("http://content.titles")
    products.fetched.clear()
    service.pull()
    assert "http://playback.events/observations" in products.fetched
    assert "http://content.titles/observations" not in products.fetched  # not read from a product that is down
    card = service.scorecard(PLAYBACK)
    assert card.quality.pass_rate == 0.5 and card.quality.failed == ("check_1",)
    assert (card.freshness.verdict.value, card.freshness.observed_seconds, card.freshness.objective_seconds) == (
        "missed",
        90.0,
        60.0,
    )
    assert (service.observations(PLAYBACK) or {})["freshness_seconds"] == 90.0
    viewing = service.scorecard(VIEWING)
    assert viewing.quality.pass_rate == 1.0 and viewing.freshness.verdict.value == "met" and viewing.grade == "A"


def test_observations_that_cannot_be_read_are_unknown_and_the_product_stays_available(
    service: CatalogService, products: FakeProducts
) -> None:
    register_all(service)
    service.pull()
    assert service.scorecard(PLAYBACK).quality.pass_rate == 1.0
    del products.observations["http://playback.events"]
    products.observations["http://engagement.viewing"] = ["not", "a", "report"]
    report = service.pull()
    assert PLAYBACK in report.refreshed and service.entry(PLAYBACK).availability.status is Status.AVAILABLE
    for product in (PLAYBACK, VIEWING):
        card = service.scorecard(product)
        assert card.quality.pass_rate is None and card.freshness.verdict.value == "unknown" and card.available
        assert service.observations(product) is None


def test_the_api_serves_scorecards_worst_first_and_one_products(
    api: TestClient, service: CatalogService, products: FakeProducts
) -> None:
    register_all(service)
    products.observations["http://playback.events"] = observation_report(passed=(False, False))
    products.stopped.add("http://content.titles")
    service.pull()
    cards = api.get("/scorecards").json()
    assert len(cards) == ALL
    assert [c["score"] for c in cards] == sorted(c["score"] for c in cards)
    by_id = {c["product"]: c for c in cards}
    titles = by_id["urn:mesh:content:titles:v1"]
    assert cards[0]["product"] == titles["product"]  # down and unobserved: 20 + 0 + 0 + 20 + 0
    assert not titles["available"] and titles["quality"]["pass_rate"] is None and titles["grade"] == "D"
    assert by_id[NEXT_TITLE]["compliance"] == {"refusing": 0, "warnings": 1, "policies": ["GOV-007"], "compliant": True}

    one = api.get(f"/products/{PLAYBACK}/scorecard").json()
    assert one == by_id[PLAYBACK]
    assert one["quality"]["pass_rate"] == 0.0 and one["freshness"]["verdict"] == "met"
    assert (one["score"], one["grade"]) == (75.0, "C")  # 20 + 0 + 25 + 20 + 10, but every check fails
    assert set(one) >= {"grade", "score", "parts", "weights", "completeness", "quality", "freshness", "compliance"}
    missing = api.get("/products/urn:mesh:nope:nope:v1/scorecard")
    assert missing.status_code == 404 and "urn:mesh:nope:nope:v1" in missing.json()["error"]


# --- a contract that breaks what was accepted ------------------------------------------------------


def _column_removed(document: dict[str, Any], column: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    for obj in changed["contract"]["schema"]:
        obj["properties"] = [p for p in obj["properties"] if p["name"] != column]
    return changed


def test_a_contract_that_breaks_the_accepted_one_is_refused_and_the_promise_stays(
    service: CatalogService, products: FakeProducts, store: CountingStore, clock: Clock
) -> None:
    url = "http://engagement.viewing"
    service.register_url(url)
    promised = service.entry(VIEWING).accepted_contract
    assert promised is not None and promised["version"] == "1.0.0"

    added = copy.deepcopy(products.documents[url])
    added["contract"]["schema"][0]["properties"].append(
        {"name": "note", "logicalType": "string", "physicalType": "varchar", "classification": "public"}
    )
    products.documents[url] = added
    service.register_url(url)  # a column more breaks nobody
    assert [p["name"] for p in service.entry(VIEWING).accepted_contract["schema"][0]["properties"]][-1] == "note"  # type: ignore[index]

    products.documents[url] = _column_removed(added, "watch_seconds")
    with pytest.raises(RegistrationRefused) as refused:
        service.register_url(url)
    text = str(refused.value)
    assert "GOV-004" in text and "watch_seconds was removed" in text
    assert all("urn:mesh:engagement:viewing:v2" in (v.fix or "") for v in refused.value.violations)

    # The running product serves the breaking contract anyway: the pull records the refusal, and the
    # promise stays the accepted contract, also across a restart of the catalog.
    clock.tick()
    service.pull()
    assert any(v.policy == "GOV-004" and "watch_seconds" in v.problem for v in service.compliance(VIEWING).violations)
    restarted = CatalogService(FakeProducts(), JsonFileStore(store.path), clock, policies=_policies())
    restarted.load()
    kept = restarted.entry(VIEWING).accepted_contract
    assert kept is not None and "note" in json.dumps(kept) and "watch_seconds" in json.dumps(kept)


def test_a_product_is_retired_only_with_the_platform_token(service: CatalogService) -> None:
    register_all(service)
    api = TestClient(build_app(service, platform_token="the-token"))
    assert api.delete(f"/products/{VIEWING}").status_code == 401
    assert api.delete(f"/products/{VIEWING}", headers={"Authorization": "Bearer guess"}).status_code == 401
    retired = api.delete(f"/products/{VIEWING}", headers={"Authorization": "Bearer the-token"})
    assert retired.status_code == 200 and retired.json() == {"retired": VIEWING, "url": "http://engagement.viewing"}
    assert VIEWING not in {p["id"] for p in api.get("/products").json()}
    assert api.get(f"/products/{VIEWING}").status_code == 404
    assert api.delete(f"/products/{VIEWING}", headers={"Authorization": "Bearer the-token"}).status_code == 404
    service.register_url("http://engagement.viewing")  # it may come back, judged as a newcomer
    assert service.entry(VIEWING).accepted_contract is not None


def test_a_dry_run_says_what_a_registration_would_meet_and_registers_nothing(
    api: TestClient, service: CatalogService, products: FakeProducts
) -> None:
    url = "http://engagement.viewing"
    fresh = api.post("/products/check", json={"url": url, "document": products.documents[url]}).json()
    assert fresh["product"] == VIEWING and fresh["accepted_contract"] is None and not fresh["refused"]
    assert VIEWING not in {e.id for e in service.entries()}
    service.register_url(url)
    broken = _column_removed(products.documents[url], "watch_seconds")
    judged = api.post("/products/check", json={"url": url, "document": broken}).json()
    assert judged["refused"] and judged["accepted_contract"] == "1.0.0"
    assert {v["policy"] for v in judged["violations"] if v["severity"] == "refuse"} == {"GOV-004"}
    assert service.entry(VIEWING).document["contract"] == products.documents[url]["contract"]  # unchanged
    assert api.post("/products/check", json={"url": url}).status_code == 400
