"""The pages the ports serve to a browser (GraphiQL at /graphql, Swagger UI at /docs) with every script
and style from this server, under /assets: a workshop room may have no internet, and a page should run
no code fetched from elsewhere. The files come from their npm packages, pinned with their integrity in
static/sources.json (platform/scripts/vendor_web_assets.py refreshes them).

Compared: the CDN that strawberry and FastAPI default to (fails offline, and runs code nobody here
pinned); fetching the npm tarballs at setup into the cache (one more download for `make setup` and
one more part for the offline bundle); keeping the 5.5 MB of files in the repository. Chosen: the
repository, with the integrity of each file checked by a unit test and by the browser itself."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from strawberry.fastapi import GraphQLRouter
from strawberry.http.ides import get_graphql_ide_html

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = "/assets"
_CDN_URL = re.compile(r"https://unpkg\.com/((?:@[^/@\s\"']+/)?[^/@\s\"']+)@([^/\s\"']+)/([^\s\"']+)")


class AssetMissing(RuntimeError):
    """A page asks for a file that is not among the vendored assets (a library was upgraded)."""


@cache
def sources() -> dict[str, dict[str, str]]:
    loaded: dict[str, dict[str, str]] = json.loads((STATIC / "sources.json").read_text())
    return loaded


def local_url(package: str, version: str, path: str) -> str:
    for name, source in sources().items():
        if (source["package"], source["version"], source["path"]) == (package, version, path):
            return f"{ASSETS}/{name}"
    raise AssetMissing(
        f"{package}@{version}/{path} is not among the assets in {STATIC}: add it to "
        "platform/scripts/vendor_web_assets.py and run it"
    )


def _served_here(page: str) -> str:
    return _CDN_URL.sub(lambda m: local_url(m.group(1), m.group(2), m.group(3)), page)


@cache
def graphiql_page() -> str:
    """strawberry's GraphiQL page, its scripts and styles served from /assets (same bytes: the page's
    own subresource integrity checks them)."""
    return _served_here(get_graphql_ide_html("graphiql"))


_TEXT = {"text/plain": {"schema": {"type": "string"}}}
_RESULT = {"application/json": {"schema": {"type": "object", "description": "a GraphQL response: data, errors"}}}
# What strawberry's two routes answer, which its router documents only in part.
_GRAPHQL_ANSWERS: dict[str, dict[int | str, dict[str, Any]]] = {
    "GET": {
        200: {
            "description": "GraphiQL for a browser (text/html); the result of a `query` parameter (JSON)",
            "content": {**_RESULT, "text/html": {"schema": {"type": "string"}}},
        },
        400: {"description": "Not a GraphQL request (no query, or one that does not parse)", "content": _TEXT},
        405: {"description": "A mutation sent with GET: mutations are POSTed", "content": _TEXT},
    },
    "POST": {
        200: {"description": "The result: data, and errors if any", "content": _RESULT},
        400: {"description": "Not a GraphQL request: no query, or a body that is not JSON", "content": _TEXT},
    },
}


class GraphiQLRouter(GraphQLRouter[Any, Any]):
    """strawberry's FastAPI router, with GraphiQL served from this server's assets, and every answer of
    its routes in the OpenAPI document."""

    def __init__(self, *args: Any, answers: dict[int | str, dict[str, Any]] | None = None, **kwargs: Any) -> None:
        """`answers`: what else its requests may be answered (a context that checks an API key: 401, 403)."""
        super().__init__(*args, **kwargs)
        for route in self.routes:
            if isinstance(route, APIRoute):
                for method in route.methods or ():
                    route.responses = {**route.responses, **_GRAPHQL_ANSWERS.get(method, {}), **(answers or {})}

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_page())


def serve_pages(app: FastAPI) -> None:
    """/assets, and Swagger UI at /docs from them. The app is made with `docs_url=None` and
    `redoc_url=None` (FastAPI's own pages load from a CDN)."""
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=local_url("swagger-ui-dist", "5.17.14", "swagger-ui-bundle.js"),
            swagger_css_url=local_url("swagger-ui-dist", "5.17.14", "swagger-ui.css"),
            swagger_favicon_url="data:,",
        )
