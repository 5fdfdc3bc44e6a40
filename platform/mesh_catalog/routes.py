"""The catalog's REST routes, a router per part of what it does: registering products, browsing them,
their scorecards, governance, and lineage. Each route turns HTTP into one `CatalogService` call and
its answer into JSON; what an error answers is decided once, in `mesh_catalog.api.STATUS_OF`."""

from __future__ import annotations

import hmac
from dataclasses import asdict, fields
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from mesh_catalog.service import CatalogService, Compliance
from mesh_discovery.entries import CatalogEntry, Status
from mesh_sdk.serve.http_errors import errors
from mesh_sdk.spec.descriptor import ProductType
from mesh_stack.supervise import service_pid


class Registration(BaseModel):
    """A product's push: its base URL, and optionally the document it serves there (otherwise the
    catalog reads `GET <url>/` itself)."""

    model_config = ConfigDict(extra="forbid")

    url: str
    document: dict[str, Any] | None = None


PLATFORM_TOKEN = HTTPBearer(
    scheme_name="PlatformToken", auto_error=False, description="the platform's token (mesh_access.platform_token)"
)


class BadRequest(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(message)


class NotThePlatform(Exception):
    """A request that needs the platform's token came without it."""


def registering(service: CatalogService, platform_token: str | None) -> APIRouter:
    """Products push themselves in, check a document before they do, and the platform retires them."""
    router = APIRouter(tags=["registration"])

    @router.post(
        "/products",
        status_code=201,
        summary="Register a product (push); 422 when it violates a governance policy that refuses",
        responses=errors(400, 422),
    )
    def register(registration: Registration) -> dict[str, Any]:
        url = _base_url(registration.url)
        if registration.document is None:
            entry = service.register_url(url)
        else:
            entry = service.register_document(registration.document, url)
        return _view(entry, service.compliance(entry.id))

    @router.post(
        "/products/check",
        summary="What registering a product's document would meet, registering nothing (a dry run)",
        responses=errors(400),
    )
    def check(registration: Registration) -> dict[str, Any]:
        if registration.document is None:
            raise BadRequest("document", "is missing: a check reads the document sent, not a URL")
        entry, violations = service.judge(registration.document, _base_url(registration.url))
        accepted = entry.accepted_contract
        return {
            "product": entry.id,
            "accepted_contract": accepted.get("version") if accepted else None,
            "refused": any(v.refuses for v in violations),
            "violations": [v.as_dict() for v in violations],
        }

    @router.delete(
        "/products/{product_id}",
        summary="Retire a product: it leaves the catalog (its data stays); needs the platform token",
        responses=errors(401, 404),
    )
    def retire(
        product_id: str, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(PLATFORM_TOKEN)]
    ) -> dict[str, Any]:
        presented = bearer.credentials if bearer else ""
        if platform_token is None or not hmac.compare_digest(presented.encode(), platform_token.encode()):
            raise NotThePlatform("retiring a product needs the platform token (Authorization: Bearer <token>)")
        entry = service.retire(product_id)
        return {"retired": entry.id, "url": entry.url}

    return router


def browsing(service: CatalogService) -> APIRouter:
    """What is in the catalog: every product, one product, the domains, and search."""
    router = APIRouter(tags=["products"])

    @router.get("/health", summary="Liveness, with the pid a supervisor checks it started this process")
    def health() -> dict[str, Any]:
        entries = service.entries()
        available = sum(e.availability.status is Status.AVAILABLE for e in entries)
        return {"status": "ok", "pid": service_pid(), "products": len(entries), "available": available}

    @router.get("/products", summary="Every product, available or not", responses=errors(400))
    def products(domain: str | None = None, type: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        entries = service.entries(domain=domain, type=_type(type), status=_status(status))
        compliance = service.violations()
        return [_view(e, compliance.get(e.id)) for e in entries]

    @router.get(
        "/products/{product_id}", summary="One product, with the whole document it serves", responses=errors(404)
    )
    def product(product_id: str) -> dict[str, Any]:
        entry = service.entry(product_id)
        return _view(entry, service.compliance(product_id)) | {"document": entry.document}

    @router.get(
        "/search", summary="Products matching every word, ranked, saying where each matched", responses=errors(400)
    )
    def search(
        q: Annotated[str, Query(description="words matched against names, descriptions, columns, tags, owners")],
        domain: str | None = None,
        type: str | None = None,
    ) -> list[dict[str, Any]]:
        if not q.strip():
            raise BadRequest("q", "q is empty: give the words to search for")
        return [
            {"id": h.entry.id, "score": h.score, "matches": list(h.matches), "product": _summary(h.entry)}
            for h in service.search(q, domain=domain, type=_type(type))
        ]

    @router.get("/domains", summary="Each domain with its products")
    def domains() -> dict[str, list[str]]:
        return service.domains()

    return router


def scoring(service: CatalogService) -> APIRouter:
    """How well each product does: its scorecard, and the figures its observation port showed."""
    router = APIRouter(tags=["scorecards"])

    @router.get("/scorecards", summary="Every product's scorecard, the worst first")
    def scorecards() -> list[dict[str, Any]]:
        return [card.as_dict() for card in service.scorecards()]

    @router.get(
        "/products/{product_id}/scorecard",
        summary="A product's scorecard: completeness, quality, freshness",
        responses=errors(404),
    )
    def product_scorecard(product_id: str) -> dict[str, Any]:
        return service.scorecard(product_id).as_dict()

    @router.get(
        "/products/{product_id}/observations",
        summary="The figures of a product's observation port, as each pull of the last hour read them",
        responses=errors(404),
    )
    def observation_history(product_id: str) -> list[dict[str, Any]]:
        return [{"at": at.isoformat(), **figures} for at, figures in service.observation_history(product_id)]

    return router


def governing(service: CatalogService) -> APIRouter:
    """The policies in force and who violates them."""
    router = APIRouter(tags=["governance"])

    @router.get("/policies", summary="The governance policies in force, and their version")
    def policies() -> dict[str, Any]:
        # `error`: the policy file changed but does not load; the policies shown stay in force.
        return service.policies.as_dict() | {"error": service.policy_error}

    @router.get(
        "/violations",
        summary="Every product's current policy violations (an empty list: compliant)",
        responses=errors(400, 404),
    )
    def violations(
        severity: str | None = None, product: str | None = None, only_violating: bool = False
    ) -> dict[str, Any]:
        if severity not in (None, "refuse", "warn"):
            raise BadRequest("severity", f"severity is {severity!r}, expected refuse or warn")
        by_product = service.violations()
        if product is not None:
            by_product = {product: service.compliance(product)}
        statuses = {e.id: e.availability.status.value for e in service.entries()}
        out = []
        for product_id, compliance in by_product.items():
            found = [v for v in compliance.violations if severity is None or v.severity.value == severity]
            if only_violating and not found:
                continue
            out.append(
                {
                    "product": product_id,
                    "status": statuses.get(product_id),
                    "evaluated_at": compliance.evaluated_at.isoformat(),
                    "compliant": not compliance.refusing,
                    "violations": [v.as_dict() for v in found],
                }
            )
        return {"policies": {"version": service.policies.version, "digest": service.policies.digest}, "products": out}

    return router


def tracing(service: CatalogService) -> APIRouter:
    """Lineage: between products, between columns, and the OpenLineage runs the products report."""
    router = APIRouter(tags=["lineage"])

    @router.get("/lineage", summary="Product-level lineage: products and external sources, and their edges")
    def lineage() -> dict[str, Any]:
        return service.lineage().as_dict()

    @router.post(
        "/api/v1/lineage",
        status_code=201,
        summary="Receive an OpenLineage run event (the endpoint OpenLineage clients send to)",
        responses=errors(400),
    )
    async def openlineage_event(request: Request) -> dict[str, Any]:
        try:
            document = await request.json()
        except ValueError:
            raise BadRequest(None, "the body is not JSON: send an OpenLineage run event") from None
        event, run = service.record_run_event(document)
        return {"job": event.job_name, "run": event.run_id, "state": run.state, "events": run.events}

    @router.get("/lineage/runs", summary="Each product's latest OpenLineage run: state, datasets and their versions")
    def lineage_runs() -> list[dict[str, Any]]:
        return [run.as_dict() for run in service.latest_runs().values()]

    @router.get(
        "/lineage/events",
        summary="The most recent OpenLineage run events received, newest first",
        responses=errors(400),
    )
    def lineage_events(job: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
        return [e.raw for e in service.run_events(job, limit)]

    @router.get(
        "/lineage/columns",
        summary="Column-level lineage: every column's sources, or one column's chain",
        responses=errors(400, 404),
    )
    def column_lineage(
        column: Annotated[
            str | None,
            Query(description="a column id: <product id>/<table>.<column>, or kafka:<topic>/<field>"),
        ] = None,
    ) -> dict[str, Any]:
        if column is None:
            return service.column_lineage().as_dict()
        node, upstream, downstream, sources = service.column_lineage_of(column)
        return {
            "column": asdict(node),
            "upstream": [asdict(e) for e in upstream],
            "downstream": [asdict(e) for e in downstream],
            "sources": sources,
        }

    # Last: its path would otherwise take /lineage/runs, /events and /columns.
    @router.get(
        "/lineage/{node_id}",
        summary="What a product (or source) is made from, and what is made from it",
        responses=errors(404),
    )
    def lineage_of(node_id: str) -> dict[str, Any]:
        node, upstream, downstream = service.lineage_of(node_id)
        return {
            "node": asdict(node),
            "upstream": [asdict(e) for e in upstream],
            "downstream": [asdict(e) for e in downstream],
        }

    return router


def _base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("url", f"url is {url!r}, expected a product's base URL such as http://127.0.0.1:18100")
    if parts.query or parts.fragment:
        raise BadRequest("url", f"url is {url!r}: a base URL has no query or fragment")
    return url.strip().rstrip("/")


def _status(value: str | None) -> Status | None:
    try:
        return Status.named(value)
    except ValueError as exc:
        raise BadRequest("status", str(exc)) from None


def _type(value: str | None) -> str | None:
    try:
        ProductType.filter(value)
    except ValueError as exc:
        raise BadRequest("type", str(exc)) from None
    return value


def _summary(entry: CatalogEntry) -> dict[str, Any]:
    a = entry.availability
    return {
        "id": entry.id,
        "domain": entry.domain,
        "name": entry.name,
        "type": entry.type,
        "type_meaning": ProductType.meaning_of(entry.type),
        "description": entry.description,
        "url": entry.url,
        "status": a.status.value,
        "last_seen": a.last_seen.isoformat(),
        "last_error": a.last_error,
        "unavailable_since": a.unavailable_since.isoformat() if a.unavailable_since else None,
    }


def _view(entry: CatalogEntry, compliance: Compliance | None) -> dict[str, Any]:
    """Everything the catalog read from the product, and its policy violations; the raw document only
    where asked for."""
    hidden = ("document", "availability", "accepted_contract")
    details = {f.name: getattr(entry, f.name) for f in fields(entry) if f.name not in hidden}
    view: dict[str, Any] = jsonable_encoder(details) | _summary(entry) | {"tables": list(entry.tables)}
    violations = compliance.violations if compliance else ()
    return view | {"violations": [v.as_dict() for v in violations]}
