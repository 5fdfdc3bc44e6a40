"""The catalog's HTTP app (a driving adapter): the REST routes (`mesh_catalog.routes`), GraphQL at
`/graphql` (`graphql_api.py`), the access API at `/access` and the portal at `/portal`.

Errors are `{"error": <what is wrong>, "field": <which field, when one is to blame>}` with a 4xx status
(each route's OpenAPI entry lists the ones it gives), decided once for every route in `STATUS_OF`. A
registration naming a URL the catalog cannot read is 422. A registration refused by governance is 422
too and adds `violations`: each with its policy, product, field, problem and fix."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from mesh_access import AccessService
from mesh_catalog import graphql_api, portal
from mesh_catalog.access_api import mount_access
from mesh_catalog.audit_browser import AuditLog
from mesh_catalog.lineage import UnknownNode
from mesh_catalog.portal import LabsBoard
from mesh_catalog.portal.stewardship import Stewards
from mesh_catalog.registry import UnknownProduct
from mesh_catalog.routes import BadRequest, NotThePlatform, browsing, governing, registering, scoring, tracing
from mesh_catalog.runs import MalformedEvent
from mesh_catalog.service import CatalogService, FetchFailed, RegistrationRefused
from mesh_discovery.entries import MalformedDocument
from mesh_sdk.serve.http_errors import Answer, answer_errors, invalid_requests_are_400
from mesh_web import serve_pages


def _unreadable(exc: Exception) -> dict[str, Any]:
    # The registration names a URL the catalog cannot read: the request cannot be carried out as it is
    # (422), rather than a failure of the catalog's own (a 5xx).
    return {"error": f"the catalog could not read the discovery document: {exc}", "field": "url"}


def _refused(exc: Exception) -> dict[str, Any]:
    assert isinstance(exc, RegistrationRefused)
    count = len(exc.violations)
    return {
        "error": f"registration of {exc.product_id} refused: it violates {count} "
        f"governance polic{'y' if count == 1 else 'ies'}; fix them and register again",
        "field": exc.violations[0].field,
        "product": exc.product_id,
        "violations": [v.as_dict() for v in exc.violations],
    }


STATUS_OF: dict[type[Exception], int | tuple[int, Answer]] = {
    BadRequest: 400,
    MalformedDocument: 400,
    MalformedEvent: 400,
    NotThePlatform: 401,
    UnknownProduct: 404,
    UnknownNode: 404,
    FetchFailed: (422, _unreadable),
    RegistrationRefused: (422, _refused),
}


def build_app(
    service: CatalogService,
    audit: AuditLog | None = None,
    registry_url: str | None = None,
    access: AccessService | None = None,
    platform_token: str | None = None,
    labs: LabsBoard | None = None,
    stewards: Stewards | None = None,
) -> FastAPI:
    """The REST API, the GraphQL API at /graphql, the access API at /access (given an access service
    and the platform token) and the web portal at /portal (which shows the audit log and access when
    given them)."""
    app = FastAPI(
        docs_url=None,  # Swagger UI from our own assets: mesh_web.serve_pages
        redoc_url=None,
        title="Data product catalog",
        description="Every product of the mesh: registered at its start, re-read every pull, kept until retired.",
    )
    answer_errors(app, STATUS_OF)
    for router in (
        browsing(service),
        registering(service, platform_token),
        scoring(service),
        governing(service),
        tracing(service),
    ):
        app.include_router(router)
    graphql_api.mount(app, service)  # the same service over GraphQL, at /graphql (GraphiQL in a browser)
    if access is not None and platform_token is not None:
        mount_access(app, access, platform_token)
    portal.mount(app, service, audit, registry_url, access, labs, stewards)  # and for people, at /portal
    serve_pages(app)
    invalid_requests_are_400(app)
    return app
