"""docker-compose.yml is checked statically here: no Docker daemon runs on the CI machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def test_the_same_components_as_the_embedded_stack(services: dict[str, Any]) -> None:
    assert {"postgres", "minio", "kafka", "registry", "connect"} <= set(services)


def test_every_port_is_published_on_loopback_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_every_server_has_a_healthcheck_and_waits_for_healthy_dependencies(services: dict[str, Any]) -> None:
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"


def test_images_are_pinned_where_the_embedded_stack_pins_them(services: dict[str, Any]) -> None:
    assert services["kafka"]["image"].endswith(":4.1.1")
    assert services["registry"]["image"].endswith(":3.0.9")
    assert services["connect"]["image"].endswith(":3.3.1.Final")


def test_products_reach_the_other_containers_through_mesh_variables(services: dict[str, Any]) -> None:
    env = services["playback-events"]["environment"]
    assert env["MESH_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["MESH_REGISTRY_URL"].startswith("http://registry:8080/")
    assert env["MESH_S3_ENDPOINT"] == "http://minio:9000"
    assert env["MESH_POSTGRES_HOST"] == "postgres"
    assert (COMPOSE.parent / "Dockerfile").exists()


def test_every_product_has_a_service_that_runs_it(services: dict[str, Any]) -> None:
    products = {p.name for p in (COMPOSE.parent / "products").iterdir() if (p / "dataproduct.yaml").exists()}
    run = {s["command"][1].removeprefix("products/") for s in services.values() if s.get("command", [""])[0] == "run"}
    assert run == products
