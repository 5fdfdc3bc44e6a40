"""Fixtures named after what they start. The embedded stack is started once per test session on its own
ports and state directory, so a stack a developer is running (`make demo`) is left alone."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from mesh_config import MeshSettings, load_settings
from mesh_stack import Stack
from mesh_stack.isolated import isolated_settings
from mesh_testing.mesh import RunningMesh

REPO = Path(__file__).resolve().parent
SEEDED_CUSTOMERS = 300  # in the legacy database the CDC tests capture
SEEDED_TITLES = 120  # in the content database


@pytest.fixture(scope="session")
def embedded_stack() -> Iterator[Stack]:
    """The whole embedded stack (PostgreSQL, SeaweedFS, Kafka, registry, Connect, catalog), started
    once for the session from a clean state and stopped at the end."""
    # Another base port (MESH_TEST_BASE_PORT) lets two test runs share a machine without meeting.
    base = int(os.environ.get("MESH_TEST_BASE_PORT", "21400"))
    stack = Stack(isolated_settings(f"test-session-{base}", base))
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

    # compose publishes the embedded defaults on 127.0.0.1; its broker keeps the image defaults (no SASL)
    settings = load_settings(kafka_security_protocol="PLAINTEXT")
    with DockerCompose(REPO, compose_file_name="docker-compose.yml", wait=True):
        provision_services(settings)
        yield settings


# Flags for a root, offline, headless Chromium: without the background-networking ones it keeps trying
# Google's hosts, which this machine cannot reach.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Headless Chromium (Debian's `chromium`, or MESH_CHROMIUM), driven by Playwright; never a browser
    download. Missing in CI is a failure; elsewhere the browser tests are skipped saying how to get it."""
    from playwright.sync_api import sync_playwright

    path = os.environ.get("MESH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "no chromium on this machine: `apt-get install chromium` (or set MESH_CHROMIUM to a Chromium binary)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@contextmanager
def _captured(name: str, settings: MeshSettings) -> Iterator[MeshSettings]:
    """An operational database seeded (as every command that starts capture seeds it) with its Debezium
    connector running; at the end the connector, its replication slot and its publication are removed,
    and that removal is checked."""
    from mesh_sources.capture import SOURCES, remove_source, slot_active, start_source
    from mesh_sources.installers import installers

    source = next(s for s in SOURCES if s.name == name)
    start_source(source, settings, installers(settings, customers=SEEDED_CUSTOMERS, titles=SEEDED_TITLES)[name])
    yield settings
    remove_source(source, settings)
    assert slot_active(source, settings) is None, "the replication slot must not outlive the connector"


@pytest.fixture(scope="session")
def legacy_capture(embedded_stack: Stack) -> Iterator[MeshSettings]:
    """The legacy monolith's database, its tables captured as they are."""
    with _captured("legacy", embedded_stack.settings) as settings:
        yield settings


@pytest.fixture(scope="session")
def content_capture(embedded_stack: Stack) -> Iterator[MeshSettings]:
    """The content database with its outbox relayed by Debezium's event router."""
    with _captured("content", embedded_stack.settings) as settings:
        yield settings


@pytest.fixture(scope="session")
def crm_capture(legacy_capture: MeshSettings) -> Iterator[MeshSettings]:
    """The customer-care CRM, seeded from the monolith's customers."""
    with _captured("crm", legacy_capture) as settings:
        yield settings


@pytest.fixture(scope="session")
def subscriptions_service_capture(legacy_capture: MeshSettings) -> Iterator[MeshSettings]:
    """The subscriptions service that takes subscriptions over from the monolith, its outbox relayed."""
    with _captured("subscriptions", legacy_capture) as settings:
        yield settings


# The whole mesh runs its own instance of every product, on the session's tables: no other test may run
# a product beside it. Its tests run one after another, and it stops as soon as they are done.
_whole_mesh = ExitStack()
MESH_FIXTURE = "running_mesh"


@pytest.fixture(scope="session")
def running_mesh(crm_capture: MeshSettings, content_capture: MeshSettings) -> Iterator[RunningMesh]:
    """Every product running in this process on the session's stack, after a burst of playback
    traffic and legacy transactions; the end-to-end test and the derived products' tests share it."""
    from mesh_testing.mesh import whole_mesh

    products = REPO / "products"
    yield _whole_mesh.enter_context(whole_mesh(crm_capture, products, customers=SEEDED_CUSTOMERS, titles=SEEDED_TITLES))
    _whole_mesh.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the whole mesh, moved together where the first of them is."""
    on_mesh = [item for item in items if MESH_FIXTURE in getattr(item, "fixturenames", ())]
    if on_mesh:
        first, moved = items.index(on_mesh[0]), {id(item) for item in on_mesh}
        others = [item for item in items if id(item) not in moved]
        items[:] = others[:first] + on_mesh + others[first:]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield
    if MESH_FIXTURE in getattr(item, "fixturenames", ()) and (
        nextitem is None or MESH_FIXTURE not in getattr(nextitem, "fixturenames", ())
    ):
        _whole_mesh.close()  # before the next tests start products of their own


@pytest.fixture(scope="session", params=["embedded", "compose"])
def mesh_services(request: pytest.FixtureRequest) -> MeshSettings:
    """Settings pointing at running services: the embedded stack, then docker-compose where Docker exists."""
    if request.param == "embedded":
        stack: Stack = request.getfixturevalue("embedded_stack")
        return stack.settings
    settings: MeshSettings = request.getfixturevalue("compose_stack")
    return settings
