"""The portal in headless Chromium, served by the whole running mesh's catalog: every page renders with
no console error, the navigation works, the lineage graph shows every product and highlights a
product's upstream and downstream, a column can be traced, and a product page carries its PII badges and
copy-paste examples for its real ports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mesh_testing.mesh import RunningMesh
from mesh_testing.products import eventually

pytestmark = pytest.mark.integration

CUSTOMERS = "urn:mesh:subscriptions:customers:v1"
RECOMMENDED_TITLE = "urn:mesh:recommendations:next-title:v1/recommendations.title_id"


class Visitor:
    """One browser tab on the portal, collecting every console error and uncaught exception."""

    def __init__(self, page: Any, base: str) -> None:
        self.page, self.base = page, base
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))

    def open(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, f"{path} answered {response and response.status}"
        return self.page


@pytest.fixture
def visitor(chromium: Any, running_mesh: RunningMesh) -> Iterator[Visitor]:
    service = running_mesh.catalog.service
    ids = {runtime.product.id for runtime in running_mesh.products.values()}
    eventually(lambda: ids <= {e.id for e in service.entries()} or None, attempts=30, pause_s=1)
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    visitor = Visitor(context.new_page(), running_mesh.catalog.url)
    yield visitor
    context.close()
    assert visitor.errors == [], "the portal logged errors in the browser"


def test_home_shows_every_product_and_navigation_works(visitor: Visitor, running_mesh: RunningMesh) -> None:
    page = visitor.open("/portal/")
    for runtime in running_mesh.products.values():
        assert page.locator(f'tr[data-product="{runtime.product.id}"]').count() == 1
    page.click(f'a[href="/portal/products/{CUSTOMERS}"]')
    page.wait_for_url(f"**/portal/products/{CUSTOMERS}")
    assert page.locator("h1").inner_text() == "subscriptions.customers"
    page.click('header nav a[data-nav="lineage"]')
    page.wait_for_url("**/portal/lineage")
    assert page.locator("header nav a.active").inner_text() == "Lineage"
    page.click('header nav a[data-nav="policies"]')
    page.wait_for_url("**/portal/policies")
    assert page.locator("article.policy").count() == len(running_mesh.catalog.service.policies.policies)


def test_a_product_page_has_pii_badges_and_examples_for_its_real_ports(
    visitor: Visitor, running_mesh: RunningMesh
) -> None:
    page = visitor.open(f"/portal/products/{CUSTOMERS}")
    email = page.locator("table.columns tr", has=page.locator("td code", has_text="email"))
    assert email.locator(".badge.pii").count() >= 1
    ports = {page.locator(".example[data-port]").nth(i).get_attribute("data-port") for i in range(4)}
    assert {"REST", "GraphQL", "SQL"} <= ports
    port = running_mesh["subscriptions.customers"].options.http_port
    assert f"127.0.0.1:{port}/customers" in page.locator('.example[data-port="REST"] code').first.inner_text()
    assert page.locator(".chart-box svg").count() == 4
    assert page.locator(".example[data-query]").count() == len(running_mesh["subscriptions.customers"].product.queries)


def test_the_lineage_graph_shows_every_product_and_highlights_on_click(
    visitor: Visitor, running_mesh: RunningMesh
) -> None:
    page = visitor.open("/portal/lineage")
    graph = page.locator("#lineage-graph")
    for runtime in running_mesh.products.values():
        node = graph.locator(f'g.node[data-node="{runtime.product.id}"]')
        assert node.count() == 1 and node.is_visible()
    graph.locator('g.node[data-node="urn:mesh:engagement:viewing:v1"] rect').click()
    assert "selecting" in (graph.get_attribute("class") or "")
    lit = {
        graph.locator("g.node.lit").nth(i).get_attribute("data-node")
        for i in range(graph.locator("g.node.lit").count())
    }
    assert {"urn:mesh:playback:events:v1", "urn:mesh:recommendations:next-title:v1"} <= lit
    assert "made from" in page.locator("#selection").inner_text()


def test_a_column_is_traced_back_to_the_apps_telemetry(visitor: Visitor) -> None:
    page = visitor.open("/portal/lineage")
    page.fill("#column", RECOMMENDED_TITLE)
    page.click(".column-form button")
    page.wait_for_selector("#column-trace")
    assert "kafka:playback.telemetry.raw.v1/title_id" in page.locator("#column-trace").inner_text()


def test_search_and_the_audit_log_render(visitor: Visitor) -> None:
    page = visitor.open("/portal/")
    page.fill("header .search input", "watch_seconds")
    page.press("header .search input", "Enter")
    page.wait_for_url("**/portal/search?q=watch_seconds")
    assert page.locator('.hits a[href="/portal/products/urn:mesh:engagement:viewing:v1"]').count() == 1
    page = visitor.open("/portal/audit")
    assert page.locator("table.audit, #audit-error").count() == 1


def test_the_graphql_console_runs_a_query_against_the_catalog(visitor: Visitor) -> None:
    page = visitor.open("/portal/graphql")
    page.click("#graphql-console button")
    page.wait_for_function("document.querySelector('#graphql-result code').textContent.includes('columnLineage')")
    assert "kafka:playback.telemetry.raw.v1/title_id" in page.locator("#graphql-result").inner_text()
    assert page.locator("#graphql-status").inner_text() == "HTTP 200"


@pytest.mark.parametrize("server", ["catalog", "content.titles"])
def test_graphiql_and_swagger_ui_render_from_the_servers_own_assets(
    chromium: Any, running_mesh: RunningMesh, server: str
) -> None:
    """No page of a port fetches anything from the internet: a workshop room may have none."""
    if server == "catalog":
        base = running_mesh.catalog.url
    else:
        base = f"http://127.0.0.1:{running_mesh[server].options.http_port}"
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    requested: list[str] = []
    failures: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda error: failures.append(str(error)))
    try:
        assert page.goto(base + "/graphql").status == 200
        page.wait_for_selector(".graphiql-container .graphiql-editor", timeout=60_000)
        assert page.goto(base + "/docs").status == 200
        page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
    finally:
        context.close()
    assert any(url.endswith("/assets/graphiql.min.js") for url in requested)
    elsewhere = [url for url in requested if not url.startswith(("http://127.0.0.1", "data:"))]
    assert elsewhere == [], "the pages fetched from outside the server"
    assert failures == []
