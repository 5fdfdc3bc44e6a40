"""The mesh's web portal, served by the catalog at `/portal`: where people find, understand and trust
the products. Server-rendered pages (Jinja2) over the same `CatalogService` as the REST and GraphQL
APIs; its stylesheet and one small script are files of this package, so the portal needs nothing from
the internet, and every page reads without the script (it only adds highlighting and copy buttons).

Pages: home (domains, products, health at a glance), a product (descriptor, contract with PII badges
and column lineage, schemas, ports with copy-paste examples, example queries, observation charts,
snapshots, scorecard, latest run), lineage (the whole mesh as a graph, and one column's chain),
policies and their violations, access (consumers, requests awaiting their owners, grants), the audit
log, the labs with the learner's progress, search, and customer-360's stewards' desk (`stewardship`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from mesh_access import AccessService
from mesh_catalog.audit_browser import AuditLog, AuditUnavailable, audit_page
from mesh_catalog.lineage import UnknownNode
from mesh_catalog.portal import charts
from mesh_catalog.portal.examples import examples
from mesh_catalog.portal.layout import BOX_H, BOX_W, layout
from mesh_catalog.portal.stewardship import Stewards, mount_stewardship, takes_stewards
from mesh_catalog.registry import UnknownProduct
from mesh_catalog.service import CatalogService
from mesh_discovery.entries import CatalogEntry, Status
from mesh_sdk.spec.descriptor import ProductType

HERE = Path(__file__).parent
EXAMPLE_QUERY = """{
  search(q: "watch_seconds") {
    product { id status scorecard { grade score } }
    matched
  }
  columnLineage(column: "urn:mesh:recommendations:next-title:v1/recommendations.title_id") {
    sources
  }
}"""
PREFIX = "/portal"
TYPE_MEANINGS = {t.value: f"{t.family}: {t.meaning}" if t.family != t.value else t.meaning for t in ProductType}


class LabsBoard(Protocol):
    """The labs and the learner's progress in them (mesh_labs.board.LabsBoard), given by the process
    that runs the catalog: the catalog itself knows nothing of labs."""

    def labs(self) -> list[Any]: ...


def mount(
    app: FastAPI,
    service: CatalogService,
    audit: AuditLog | None = None,
    registry_url: str | None = None,
    access: AccessService | None = None,
    labs: LabsBoard | None = None,
    stewards: Stewards | None = None,
) -> None:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(prefix=PREFIX, box_w=BOX_W, box_h=BOX_H, type_meanings=TYPE_MEANINGS)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="portal-static")

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def not_found(request: Request, message: str) -> HTMLResponse:
        return page(request, "error.html", 404, title="Not found", message=message)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse(f"{PREFIX}/")

    @app.get(f"{PREFIX}/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        cards = {c.product: c for c in service.scorecards()}
        entries = service.entries()
        domains: dict[str, list[dict[str, Any]]] = {}
        for entry in sorted(entries, key=lambda e: (e.domain, e.name)):
            domains.setdefault(entry.domain, []).append(_summary(entry, cards.get(entry.id)))
        available = sum(e.availability.status is Status.AVAILABLE for e in entries)
        violating = sum(1 for c in service.violations().values() if c.refusing)
        return page(
            request,
            "home.html",
            title="Data products",
            domains=domains,
            counts={"products": len(entries), "available": available, "domains": len(domains), "violating": violating},
            policies=service.policies,
        )

    @app.get(f"{PREFIX}/products/{{product_id}}", response_class=HTMLResponse, include_in_schema=False)
    def product(request: Request, product_id: str) -> HTMLResponse:
        try:
            entry = service.entry(product_id)
        except UnknownProduct:
            return not_found(request, f"No product {product_id!r} is registered with the catalog.")
        card = service.scorecard(entry.id)
        observations = service.observations(entry.id) or {}
        history = service.observation_history(entry.id)
        columns = service.column_lineage()
        sources: dict[str, list[str]] = {}  # this product's columns: the columns each is derived from
        for e in columns.edges:
            if e.target.startswith(entry.id + "/"):
                sources.setdefault(e.target.split("/", 1)[1], []).append(e.source)
        run = service.latest_runs().get(entry.id)
        classes = {c.name: c.classification or "—" for c in entry.columns}
        return page(
            request,
            "product.html",
            title=f"{entry.domain}.{entry.name}",
            entry=entry,
            contract=entry.document.get("contract") or {},
            descriptor=entry.document.get("descriptor") or {},
            schemas=entry.document.get("schemas") or {},
            classes=classes,
            pii_fields={c.name for c in entry.columns if c.pii},
            queries=[q for q in entry.document.get("queries") or [] if isinstance(q, dict)],
            ports=entry.document.get("ports") or {},
            examples=examples(entry, registry_url),
            card=card.as_dict(),
            violations=service.compliance(entry.id).violations,
            snapshots=list(reversed(observations.get("snapshots") or []))[:20],
            observations=observations,
            charts=_charts(history, entry.slos.freshness_seconds),
            sources=sources,
            run=run.as_dict() if run else None,
            lineage=service.lineage_of(entry.id),
            stewardship=stewards is not None and takes_stewards(entry.domain, entry.name),
        )

    mount_stewardship(app, service, stewards, page, PREFIX)

    @app.get(f"{PREFIX}/lineage", response_class=HTMLResponse, include_in_schema=False)
    def lineage(request: Request, column: str | None = None) -> HTMLResponse:
        graph = service.lineage()
        drawn = layout(
            [(n.id, n.label, n.kind, n.status) for n in graph.nodes.values()],
            [(e.source, e.target, e.declared, e.observed) for e in graph.edges],
        )
        columns = service.column_lineage()
        trace = None
        if column:
            try:
                node, upstream, downstream, sources = service.column_lineage_of(column)
            except UnknownNode:
                return not_found(request, f"No column {column!r} in the mesh's column lineage.")
            trace = {"column": node, "upstream": upstream, "downstream": downstream, "sources": sources}
        products = sorted((n for n in columns.nodes.values() if n.known), key=lambda n: n.id)
        return page(
            request,
            "lineage.html",
            title="Lineage",
            graph=drawn,
            edges=graph.edges,
            runs=service.latest_runs(),
            trace=trace,
            column=column,
            column_choices=products,
            unresolved=columns.unresolved,
        )

    @app.get(f"{PREFIX}/policies", response_class=HTMLResponse, include_in_schema=False)
    def policies(request: Request) -> HTMLResponse:
        by_product = service.violations()
        return page(
            request,
            "policies.html",
            title="Policies",
            policies=service.policies,
            error=service.policy_error,
            violations=sorted(by_product.items(), key=lambda item: (-len(item[1].refusing), item[0])),
        )

    @app.get(f"{PREFIX}/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit_log(
        request: Request, key: str | None = None, source: str | None = None, before: int | None = None
    ) -> HTMLResponse:
        key, source = key or None, source or None
        error, shown, sources = None, None, []
        if audit is None:
            error = "this catalog was started without access to the audit log"
        else:
            try:
                records = audit.records()
                shown = audit_page(records, before=before, key=key, source=source)
                sources = sorted({r.source for r in records})
            except AuditUnavailable as exc:
                error = str(exc)
        return page(
            request, "audit.html", title="Audit log", page=shown, error=error, key=key, source=source, sources=sources
        )

    @app.get(f"{PREFIX}/access", response_class=HTMLResponse, include_in_schema=False)
    def access_page(request: Request) -> HTMLResponse:
        if access is None:
            return page(request, "error.html", 404, title="Access", message="This catalog serves no access API.")
        requests = sorted(access.requests(), key=lambda r: r.requested_at, reverse=True)
        return page(
            request,
            "access.html",
            title="Access",
            consumers=access.consumers(),
            pending=[r for r in requests if r.status == "pending"],
            decided=[r for r in requests if r.status != "pending"],
            owners={e.id: e.owner.team if e.owner else "—" for e in service.entries()},
        )

    @app.get(f"{PREFIX}/labs", response_class=HTMLResponse, include_in_schema=False)
    def labs_page(request: Request) -> HTMLResponse:
        if labs is None:
            return page(request, "error.html", 404, title="Labs", message="This catalog shows no labs.")
        return page(request, "labs.html", title="Labs", labs=labs.labs())

    @app.get(f"{PREFIX}/graphql", response_class=HTMLResponse, include_in_schema=False)
    def graphql_console(request: Request) -> HTMLResponse:
        return page(request, "graphql.html", title="GraphQL console", example=EXAMPLE_QUERY)

    @app.get(f"{PREFIX}/search", response_class=HTMLResponse, include_in_schema=False)
    def search(request: Request, q: str = "", domain: str | None = None) -> HTMLResponse:
        hits = service.search(q, domain=domain or None) if q.strip() else []
        return page(request, "search.html", title=f"Search: {q}" if q else "Search", q=q, hits=hits)


def _summary(entry: CatalogEntry, card: Any) -> dict[str, Any]:
    observations_known = card is not None and card.observed_at is not None
    return {
        "entry": entry,
        "grade": card.grade if card else "?",
        "score": card.score if card else None,
        "freshness": card.freshness if card else None,
        "quality": card.quality.pass_rate if observations_known else None,
        "warnings": card.compliance.warnings if card else 0,
        "refusals": card.compliance.refusing if card else 0,
    }


def _charts(history: list[Any], objective: float | None) -> list[charts.Chart]:
    def series(name: str) -> list[tuple[Any, float | None]]:
        return [(at, figures.get(name)) for at, figures in history]

    return [
        charts.line_chart("Rows", series("total_rows")),
        charts.line_chart("Freshness", series("freshness_seconds"), " s", objective),
        charts.line_chart("Input rows consumed", series("consumed")),
        charts.line_chart("Dead letters", series("dead_letters")),
    ]
