"""The portal's pages, rendered in-process over a catalog of the seven real products (their documents
built without servers), and its pure parts: the lineage layout, the charts, the examples, the audit
pages. The browser tests (tests/integration/test_portal_browser.py) drive the same pages in Chromium."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mesh_audit.record import AuditRecord, ChainHead, Change, link_all
from mesh_catalog.api import build_app
from mesh_catalog.audit_browser import AuditUnavailable, audit_page
from mesh_catalog.portal.charts import line_chart
from mesh_catalog.portal.examples import examples
from mesh_catalog.portal.layout import layout
from mesh_catalog.service import CatalogService
from tests.unit.test_catalog_column_lineage import Documents, MemoryStore, _products, run_event

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CUSTOMERS = "urn:mesh:subscriptions:customers:v1"


def _records(n: int) -> list[AuditRecord]:
    changes = [
        Change(NOW, "cdc.legacy.public.customers", "legacy.public.customers", str(i % 3), "u", None, "d", f"p{i}")
        for i in range(n)
    ]
    return link_all(changes, ChainHead(), NOW)


class FakeAuditLog:
    def __init__(self, records: list[AuditRecord] | None, error: str | None = None) -> None:
        self._records, self._error = records, error

    def records(self) -> list[AuditRecord]:
        if self._error:
            raise AuditUnavailable(self._error)
        return self._records or []


@pytest.fixture(scope="module")
def service() -> CatalogService:
    service = CatalogService(Documents(), MemoryStore(), lambda: NOW)
    for name in _products():
        service.register_url(f"http://{name}")
    for product in _products().values():
        service.record_run_event(run_event(product))
    return service


@pytest.fixture(scope="module")
def portal(service: CatalogService) -> TestClient:
    return TestClient(build_app(service, FakeAuditLog(_records(120)), "http://127.0.0.1:18081/apis/ccompat/v7"))


def test_the_root_leads_to_the_portal(portal: TestClient) -> None:
    answer = portal.get("/", follow_redirects=False)
    assert answer.status_code == 307 and answer.headers["location"] == "/portal/"


def test_home_lists_every_domain_and_product_with_its_health(portal: TestClient) -> None:
    page = portal.get("/portal/").text
    for product in _products().values():
        assert f'href="/portal/products/{product.id}"' in page
        assert f'id="domain-{product.descriptor.domain}"' in page
    assert f"{len(_products())}</b> products" in page and "grade" in page


def test_a_product_page_shows_contract_pii_ports_queries_and_lineage(portal: TestClient) -> None:
    page = portal.get(f"/portal/products/{CUSTOMERS}").text
    for section in ("ports", "contract", "schemas", "queries", "observations", "snapshots", "scorecard", "lineage"):
        assert f'id="{section}"' in page
    email = re.search(r"<code>email</code>.*?</tr>", page, re.S)
    assert email is not None and 'class="badge pii"' in email.group(0)
    assert "cdc:legacy.public.customers/email" in page  # where the column comes from
    assert "Latest run (OpenLineage)" in page and "RUNNING" in page
    for query in _products()["subscriptions.customers"].queries:
        assert f'data-query="{query.name}"' in page
    assert "source-aligned: an operational system" in page  # what the type means
    assert "One current view of who the customers are" in page and "<b>churn analyst</b>" in page


def test_an_unknown_product_page_is_a_404_naming_it(portal: TestClient) -> None:
    answer = portal.get("/portal/products/urn:mesh:nobody:nothing:v1")
    assert answer.status_code == 404 and "urn:mesh:nobody:nothing:v1" in answer.text


def test_the_lineage_page_draws_every_product_and_source(portal: TestClient, service: CatalogService) -> None:
    page = portal.get("/portal/lineage").text
    for node in service.lineage().nodes:
        assert f'data-node="{node}"' in page
    assert page.count('class="edge observed') == sum(e.observed for e in service.lineage().edges)


def test_the_lineage_page_traces_a_column(portal: TestClient) -> None:
    column = "urn:mesh:recommendations:next-title:v1/recommendations.title_id"
    page = portal.get("/portal/lineage", params={"column": column}).text
    assert 'id="column-trace"' in page and "kafka:playback.telemetry.raw.v1/title_id" in page
    assert portal.get("/portal/lineage", params={"column": "no/such.column"}).status_code == 404


def test_policies_and_violations(portal: TestClient, service: CatalogService) -> None:
    page = portal.get("/portal/policies").text
    for policy in service.policies.policies:
        assert f'id="{policy.id}"' in page
    assert "violations-table" in page


def test_the_audit_page_pages_through_a_linked_chain(portal: TestClient) -> None:
    page = portal.get("/portal/audit").text
    assert 'id="audit-intact"' in page and "120 record(s)" in page
    older = re.search(r'id="older" href="([^"]+)"', page)
    assert older is not None and "before=71" in older.group(1).replace("&amp;", "&")
    assert "40 record(s)" in portal.get("/portal/audit", params={"key": "1"}).text


def test_the_audit_page_says_when_a_record_was_tampered_with() -> None:
    records = _records(5)
    records[2] = dataclasses.replace(records[2], operation="d")  # changed after it was hashed
    page = audit_page(records)
    assert not page.all_intact
    broken = {c.record.sequence: (c.intact, c.linked) for c in page.records}
    assert broken[3] == (False, True) and broken[4] == (True, True)


def test_the_audit_page_explains_an_unreadable_log(service: CatalogService) -> None:
    client = TestClient(build_app(service, FakeAuditLog(None, "the audit log has no table yet: start it")))
    assert "has no table yet" in client.get("/portal/audit").text


def test_search_finds_a_product_by_a_column_name(portal: TestClient) -> None:
    page = portal.get("/portal/search", params={"q": "watch_seconds"}).text
    assert 'href="/portal/products/urn:mesh:engagement:viewing:v1"' in page


def test_the_static_assets_are_served_by_the_catalog_itself(portal: TestClient) -> None:
    for asset in ("portal.css", "portal.js"):
        assert portal.get(f"/portal/static/{asset}").status_code == 200
    page = portal.get("/portal/").text
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', page)
    assert external == []


def test_layout_puts_sources_left_of_what_reads_them() -> None:
    drawn = layout(
        [("a", "a", "kafka", "external"), ("b", "b", "product", "available"), ("c", "c", "product", "available")],
        [("a", "b", True, True), ("b", "c", True, False), ("a", "c", True, False)],
    )
    x = {n.id: n.x for n in drawn.nodes}
    assert x["a"] < x["b"] < x["c"] and len(drawn.routes) == 3


def test_a_chart_draws_known_values_and_the_objective() -> None:
    points: list[tuple[datetime, float | None]] = [(NOW + timedelta(seconds=10 * i), float(i)) for i in range(5)]
    points.insert(2, (NOW + timedelta(seconds=15), None))
    chart = line_chart("Freshness", points, " s", objective=3.0)
    assert chart.svg.count("<polyline") == 2 and 'class="objective"' in chart.svg and chart.latest == "4 s"
    assert "not enough" in line_chart("Rows", []).svg


def test_examples_cover_every_port_the_document_lists(service: CatalogService) -> None:
    entry = service.entry(CUSTOMERS)
    document: dict[str, Any] = dict(entry.document) | {
        "ports": {
            "rest": "http://127.0.0.1:18101/customers",
            "graphql": "http://127.0.0.1:18101/graphql",
            "sql": "postgresql://127.0.0.1:15434/subscriptions",
            "sql_http": "http://127.0.0.1:18101/sql",
            "iceberg": "subscriptions.customers_customers_v1 in catalog mesh",
            "stream": "kafka://127.0.0.1:19092/subscriptions.customers.stream.v1",
        }
    }
    made = examples(dataclasses.replace(entry, document=document), "http://127.0.0.1:18081/apis/ccompat/v7")
    assert {e.port for e in made} == {"REST", "GraphQL", "SQL", "Kafka"}
    psql = next(e.command for e in made if e.command.startswith("psql"))
    assert (
        psql
        == "psql -h 127.0.0.1 -p 15434 -d subscriptions -c 'SELECT * FROM subscriptions.customers_customers_v1 LIMIT 5'"
    )


def test_the_graphql_console_page_carries_a_runnable_example(portal: TestClient) -> None:
    page = portal.get("/portal/graphql").text
    assert 'id="graphql-console"' in page and "columnLineage" in page
    playback = portal.get("/portal/products/urn:mesh:playback:events:v1").text
    assert 'data-schema="telemetry"' in playback  # the input's Avro record, field by field


def test_the_labs_page_shows_each_step_as_the_learner_left_it(service: CatalogService, tmp_path: Path) -> None:
    from mesh_labs.board import LabsBoard
    from mesh_labs.progress import Progress, ProgressStore, StepProgress

    repo_labs = Path(__file__).resolve().parents[2] / "labs"
    progress = Progress(current="01-tour")
    tour = progress.lab("01-tour")
    tour.started_at = "2026-12-03T09:00:00+00:00"
    tour.steps["find"] = StepProgress("passed", "playback.events holds position_ms", solved=True)
    tour.steps["owner"] = StepProgress("failed", "'Data platform' is not the team the descriptor names", hints=2)
    ProgressStore(tmp_path).save(progress)
    client = TestClient(build_app(service, labs=LabsBoard(repo_labs, tmp_path)))
    page = client.get("/portal/labs")
    assert page.status_code == 200
    text = page.text
    assert "A tour of one data product" in text and "in hand" in text
    assert "playback.events holds position_ms" in text and "solved" in text
    assert "is not the team the descriptor names" in text
    assert "not started: <code>mesh lab start 02</code>" in text


# --- customer-360's stewards' desk ----------------------------------------------------------------------

PROFILE_360 = "urn:mesh:customers:customer-360:v1"


class FakeProduct:
    """customer-360's SQL and control ports as a steward's desk reaches them: a queue of one pair, the
    records as a steward with (or without) PII reads them, and the commands it was sent."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.pii = {"ada": True, "bob": False}

    def desk(self, key: str) -> Any:
        from mesh_mdm.stewardship import StewardDesk, StewardshipRefused

        if key not in self.pii:
            raise StewardshipRefused("that key proves no one")
        name = "Ada Lovelace" if self.pii[key] else "***"

        def sql(query: str) -> tuple[list[str], list[list[Any]]]:
            if "reviews" in query:
                columns = ["anchor", "record", "p"] + [
                    f"{w}_{f}" for f in ("name", "email", "phone", "birth") for w in ("customer", "contact")
                ]
                return columns, [["subscriptions:7", "crm:70", 0.81, name, name, None, None, None, None, None, None]]
            return ["full_name", "golden_id", "band"], [[name, "g-7", "match" if self.commands else "review"]]

        def command(action: str, arguments: dict[str, Any]) -> dict[str, Any]:
            self.commands.append((action, arguments))
            return {"committed": True}

        return StewardDesk(key, sql, command)


def test_a_steward_signs_in_on_the_portal_sees_the_queue_and_decides_under_their_name(service: CatalogService) -> None:
    from mesh_catalog.portal.stewardship import COOKIE

    product = FakeProduct()
    client = TestClient(build_app(service, stewards=product.desk))
    page = f"/portal/products/{PROFILE_360}/stewardship"
    assert "Stewardship: the review queue" in client.get(f"/portal/products/{PROFILE_360}").text
    assert "Sign in as a steward" in client.get(page).text
    assert client.get(f"/portal/products/{CUSTOMERS}/stewardship").status_code == 404, "only customer-360 takes them"

    refused = client.post(f"{page}/key", data={"key": "mallory"}, follow_redirects=True)
    assert "that key proves no one" in refused.text
    client.cookies.clear()

    masked = client.post(f"{page}/key", data={"key": "bob"}, follow_redirects=True)
    assert "does not include PII" in masked.text
    denied = client.post(
        f"{page}/decide", data={"action": "match", "anchor": "subscriptions:7", "record": "crm:70", "reason": "same"}
    )
    assert denied.status_code == 422 and "reads masked to you" in denied.text and not product.commands
    client.cookies.clear()

    signed_in = client.post(f"{page}/key", data={"key": "ada"}, follow_redirects=False)
    assert signed_in.status_code == 303 and COOKIE in signed_in.headers["set-cookie"]
    assert "HttpOnly" in signed_in.headers["set-cookie"] and "SameSite=strict" in signed_in.headers["set-cookie"]
    queue = client.get(page).text
    assert "subscriptions:7" in queue and "Ada Lovelace" in queue and "Signed in as <b>ada</b>" in queue
    half = client.post(f"{page}/decide", data={"action": "match", "anchor": "subscriptions:7", "record": "crm:70"})
    assert half.status_code == 400 and "needs reason" in half.text
    done = client.post(
        f"{page}/decide",
        data={"action": "match", "anchor": "7", "record": "70", "reason": "same person"},
        follow_redirects=True,
    )
    assert "Decided: match 7 70: now g-7 (match)" in done.text
    assert product.commands == [
        ("match", {"anchor": "subscriptions:7", "record": "crm:70", "steward": "ada", "reason": "same person"})
    ]
