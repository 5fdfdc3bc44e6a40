"""The descriptor's output ports decide what a product serves: a query port it does not declare is
neither served nor listed by discovery."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from mesh_config import load_settings
from mesh_sdk.access.gate import AccessGate
from mesh_sdk.serve.rest import build_app
from mesh_sdk.serve.served import declared_query_ports, serving_urls
from mesh_sdk.spec.product import DataProduct, load_product

PLAYBACK = Path(__file__).resolve().parents[2] / "products" / "playback.events"


def _declaring(tmp_path: Path, kinds: set[str]) -> DataProduct:
    """playback.events with only the query ports `kinds` among its output ports."""
    folder = tmp_path / "playback.events"
    shutil.copytree(PLAYBACK, folder, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    path = folder / "dataproduct.yaml"
    descriptor = yaml.safe_load(path.read_text())
    descriptor["outputPorts"] = [
        p for p in descriptor["outputPorts"] if p["kind"] not in {"rest", "graphql", "sql"} or p["kind"] in kinds
    ]
    path.write_text(yaml.safe_dump(descriptor, sort_keys=False))
    return load_product(folder)


def _paths(product: DataProduct) -> set[str]:
    """The HTTP paths the product's app documents, built on a stand-in for the runtime (no servers)."""
    mounted: list[str] = []
    runtime: Any = SimpleNamespace(
        product=product,
        access=AccessGate(product.id, []),
        served_tables=dict,
        mount_graphql=lambda app: mounted.append("/graphql"),
    )
    app = build_app(runtime)
    return set(app.openapi()["paths"]) | set(mounted)


@pytest.mark.parametrize(
    ("kinds", "served", "absent"),
    [
        ({"rest", "graphql", "sql"}, {"/graphql", "/sql"}, set()),
        ({"rest", "sql"}, {"/sql"}, {"/graphql"}),
        ({"rest", "graphql"}, {"/graphql"}, {"/sql"}),
        (set(), set(), {"/graphql", "/sql"}),
    ],
)
def test_only_the_declared_query_ports_are_served(
    tmp_path: Path, kinds: set[str], served: set[str], absent: set[str]
) -> None:
    product = _declaring(tmp_path, kinds)
    assert declared_query_ports(product.descriptor) == kinds
    paths = _paths(product)
    assert served <= paths and not absent & paths, paths
    assert {"/", "/health", "/observations", "/metrics", "/snapshots"} <= paths  # the platform's own


def test_discovery_lists_only_the_declared_query_ports(tmp_path: Path) -> None:
    product = _declaring(tmp_path, {"rest"})
    urls = serving_urls(load_settings(), 18100, 15433, product.descriptor, "history")
    assert "rest" in urls and not {"graphql", "sql", "sql_http"} & set(urls)
    assert {"observation", "metrics", "control", "snapshots"} <= set(urls)
    every = serving_urls(load_settings(), 18100, 15433, load_product(PLAYBACK).descriptor, "history")
    assert {"rest", "graphql", "sql", "sql_http"} <= set(every)
