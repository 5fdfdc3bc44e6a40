"""Fixtures named after what they start. The embedded stack is started once per test session on its own
ports and state directory, so a stack a developer is running (`make demo`) is left alone."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_config import MeshSettings, load_settings
from mesh_stack import Stack

REPO = Path(__file__).resolve().parents[1]


def _state_root() -> Path:
    """Where test stacks keep state. Not pytest's tmp dir: when the tests run as root, PostgreSQL runs
    as an unprivileged user, who must be able to traverse every parent of its data directory."""
    inside_checkout = REPO / ".mesh"
    if os.geteuid() != 0 or all(p.stat().st_mode & stat.S_IXOTH for p in REPO.parents):
        return inside_checkout
    fallback = Path(tempfile.gettempdir()) / f"mesh-test-state-{REPO.name}"
    fallback.mkdir(mode=0o755, exist_ok=True)
    return fallback


def private_settings(name: str, base_port: int) -> MeshSettings:
    """Settings for a stack of its own: state under <state root>/<name>, ports from base_port upwards."""
    return load_settings(
        home=_state_root() / name,
        postgres_port=base_port,
        s3_port=base_port + 1,
        s3_master_port=base_port + 2,
        s3_volume_port=base_port + 3,
        s3_filer_port=base_port + 4,
        kafka_port=base_port + 5,
        kafka_controller_port=base_port + 6,
        registry_port=base_port + 7,
        registry_management_port=base_port + 8,
        connect_port=base_port + 9,
    )


@pytest.fixture(scope="session")
def embedded_stack() -> Iterator[Stack]:
    """The whole embedded stack (PostgreSQL, SeaweedFS, Kafka, registry, Connect, catalog), started
    once for the session from a clean state and stopped at the end."""
    stack = Stack(private_settings("test-session", 21400))
    stack.reset()
    stack.up()
    yield stack
    stack.down()


def docker_daemon_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def compose_stack() -> Iterator[MeshSettings]:
    """The same components from docker-compose.yml, started through testcontainers."""
    if not docker_daemon_available():
        pytest.skip("no Docker daemon on this machine: the compose stack cannot start (the embedded stack is tested)")
    from testcontainers.compose import DockerCompose

    from mesh_stack.provision import provision_services

    settings = load_settings()  # compose publishes the embedded defaults on 127.0.0.1
    with DockerCompose(REPO, compose_file_name="docker-compose.yml", wait=True):
        provision_services(settings)
        yield settings


@pytest.fixture(scope="session", params=["embedded", "compose"])
def mesh_services(request: pytest.FixtureRequest) -> MeshSettings:
    """Settings pointing at running services: the embedded stack, then docker-compose where Docker exists."""
    if request.param == "embedded":
        stack: Stack = request.getfixturevalue("embedded_stack")
        return stack.settings
    settings: MeshSettings = request.getfixturevalue("compose_stack")
    return settings
