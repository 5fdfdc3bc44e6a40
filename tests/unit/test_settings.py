from __future__ import annotations

from pathlib import Path

import pytest

from mesh_config import load_settings
from mesh_stack.stack import COMPONENT_TYPES


def test_defaults_describe_the_embedded_stack_on_loopback() -> None:
    s = load_settings()
    assert s.host == "127.0.0.1"
    assert s.bootstrap_servers == "127.0.0.1:19092"
    assert s.schema_registry_url.endswith("/apis/ccompat/v7")
    assert s.warehouse == "s3://lakehouse/"


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MESH_HOME", str(tmp_path))
    monkeypatch.setenv("MESH_KAFKA_BOOTSTRAP", "broker-1.example:9092,broker-2.example:9092")
    monkeypatch.setenv("MESH_S3_ENDPOINT", "https://s3.example")
    monkeypatch.setenv("MESH_CATALOG_URI", "postgresql+psycopg://u:p@db.example/catalog")
    s = load_settings()
    assert s.home == tmp_path
    assert s.bootstrap_servers == "broker-1.example:9092,broker-2.example:9092"
    assert s.s3_url == "https://s3.example"
    assert s.iceberg_catalog_uri == "postgresql+psycopg://u:p@db.example/catalog"


def test_no_two_components_share_a_port() -> None:
    s = load_settings()
    ports = [p for t in COMPONENT_TYPES for p in t(s).ports()]
    assert len(ports) == len(set(ports))


def test_dependencies_name_components_that_start_earlier() -> None:
    seen: set[str] = set()
    for component_type in COMPONENT_TYPES:
        assert set(component_type.depends_on) <= seen, component_type.name
        seen.add(component_type.name)


def test_replaced_settings_derive_their_endpoints_anew() -> None:
    from mesh_config import load_settings

    settings = load_settings()
    assert settings.product_catalog_endpoint.endswith(":18090")  # computed, and cached
    moved = settings.replaced(product_catalog_port=18999, lineage_url="off")
    assert moved.product_catalog_endpoint.endswith(":18999") and moved.lineage_endpoint is None
    assert moved.kafka_port == settings.kafka_port
