"""The ports' browser pages load nothing from the internet: every script and style of GraphiQL and
Swagger UI is served from the vendored assets, whose bytes match the integrity pinned for them."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mesh_web import STATIC, AssetMissing, graphiql_page, local_url, serve_pages, sources

EXTERNAL = re.compile(r"""(?:src|href)=["'](https?:)?//""")


def test_every_vendored_file_matches_its_pinned_integrity() -> None:
    for name, source in sources().items():
        digest = base64.b64encode(hashlib.sha384((STATIC / name).read_bytes()).digest()).decode()
        assert source["integrity"] == f"sha384-{digest}", f"{name} is not {source['package']}@{source['version']}"


def test_graphiql_loads_only_local_assets_that_its_own_integrity_checks() -> None:
    page = graphiql_page()
    assert not EXTERNAL.search(page), "GraphiQL's page still loads something from elsewhere"
    for name, source in sources().items():
        if f"/assets/{name}" in page:
            assert f'integrity="{source["integrity"]}"' in page, name


def test_a_file_no_page_was_given_is_named_with_how_to_add_it() -> None:
    with pytest.raises(AssetMissing, match=r"vendor_web_assets\.py"):
        local_url("graphiql", "9.9.9", "graphiql.min.js")


def test_swagger_ui_and_its_assets_are_served_by_the_app_itself() -> None:
    app = FastAPI(docs_url=None, redoc_url=None)
    serve_pages(app)
    with TestClient(app) as client:
        docs = client.get("/docs")
        assert docs.status_code == 200 and "swagger-ui" in docs.text
        assert not EXTERNAL.search(docs.text), "Swagger UI's page loads something from elsewhere"
        for url in re.findall(r"""(?:src|href)=["'](/assets/[^"']+)""", docs.text):
            assert client.get(url).status_code == 200, url
