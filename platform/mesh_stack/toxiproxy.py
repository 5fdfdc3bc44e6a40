"""Toxiproxy, a real TCP proxy on loopback that the network faults (`mesh chaos`) put between a product
and the broker or S3, to add latency or cut the connection without touching the product's code.

It is not a component of the stack: the normal path never goes through it. A network fault starts it,
restarts the product under test with its endpoints on the proxies, and stops it again in its rollback.

Toxiproxy is built from source with `go install` the first time a network fault needs it, into the
download cache (like the JVM artifacts), pinned to one version. It is driven over its HTTP API by the
few calls below, over httpx (already a dependency), rather than a client from PyPI: `toxiproxy-python`
(0.1.1, last released in 2019) is unmaintained, and `chaostoolkit-toxiproxy` (0.3.1, 2023) takes the
proxy's address from the experiment's configuration rather than the mesh's settings, brings `requests`
and `logzero`, and has no type hints; the API this needs is five requests."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mesh_config import MeshSettings
from mesh_stack.errors import ComponentFailed, MissingDependency, PortTaken, StackError
from mesh_stack.ports import holder_of, is_free
from mesh_stack.process import ManagedProcess

NAME = "toxiproxy"
MODULE = "github.com/Shopify/toxiproxy/v2"
VERSION = "v2.5.0"  # the newest the Go module proxy serves here; it needs Go 1.17+
# Always loopback, whatever MESH_HOST says: the API is unauthenticated and can cut any connection.
TOXIPROXY_HOST = "127.0.0.1"
KAFKA = "kafka"
S3 = "s3"
UPSTREAMS = (KAFKA, S3)

_HOW_TO_GET_GO = (
    "The network faults build Toxiproxy from source once (about 30 s, into the download cache). Install Go "
    "1.17+ (Debian/Ubuntu: `apt-get install golang-go`; macOS: `brew install go`; or the official "
    "archive under /usr/local/go) and put `go` on PATH."
)


def find_go() -> str:
    found = shutil.which("go")
    # The official archive's place: present on many machines whose PATH a service manager trimmed.
    for candidate in (found, "/usr/local/go/bin/go"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise MissingDependency("Go (`go`)", _HOW_TO_GET_GO)


def binary_path(cache_dir: Path) -> Path:
    return cache_dir / "toxiproxy" / VERSION / "toxiproxy-server"


def install(cache_dir: Path, log: Path) -> Path:
    """The pinned Toxiproxy server, built into the cache once; later calls build nothing."""
    target = binary_path(cache_dir)
    if target.exists():
        return target
    go = find_go()
    partial = target.parent.with_name(target.parent.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ) | {"GOBIN": str(partial), "CGO_ENABLED": "0"}
    with open(log, "ab") as out:
        result = subprocess.run(
            [go, "install", "-ldflags", f"-X {MODULE}.Version={VERSION}", f"{MODULE}/cmd/server@{VERSION}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=900,
        )
    if result.returncode != 0:
        raise StackError(f"`go install {MODULE}/cmd/server@{VERSION}` failed; see {log}")
    (partial / "server").rename(partial / target.name)
    shutil.rmtree(target.parent, ignore_errors=True)
    partial.rename(target.parent)
    return target


def toxiproxy_process(settings: MeshSettings) -> ManagedProcess:
    return ManagedProcess(NAME, settings.home / "run", settings.home / "logs" / f"{NAME}.log")


def upstream_address(settings: MeshSettings, upstream: str) -> str:
    """Where a proxy forwards to: the broker's listener for proxied clients (it advertises the proxy),
    or the S3 gateway."""
    ports = {KAFKA: settings.kafka_proxied_listener_port, S3: settings.s3_port}
    return f"{settings.host}:{ports[upstream]}"


def proxy_address(settings: MeshSettings, upstream: str) -> str:
    ports = {KAFKA: settings.toxiproxy_kafka_port, S3: settings.toxiproxy_s3_port}
    return f"{TOXIPROXY_HOST}:{ports[upstream]}"


def through_proxies(settings: MeshSettings, upstreams: list[str]) -> MeshSettings:
    """The settings a product gets to reach these upstreams through Toxiproxy (the others directly)."""
    unknown = set(upstreams) - set(UPSTREAMS)
    if unknown:
        raise ValueError(f"Toxiproxy has no proxy for {', '.join(sorted(unknown))}; it has {', '.join(UPSTREAMS)}")
    changes: dict[str, object] = {}
    if KAFKA in upstreams:
        changes["kafka_bootstrap"] = proxy_address(settings, KAFKA)
    if S3 in upstreams:
        changes["s3_endpoint"] = f"http://{proxy_address(settings, S3)}"
    return settings.replaced(**changes)


@dataclass(frozen=True)
class Toxic:
    """A toxic as Toxiproxy's API takes it: `latency` (ms, jitter), `timeout` (0: hold every byte and
    never close: a silent partition), `reset_peer`, `bandwidth`, ... on the `downstream` (towards the
    client) or `upstream` stream, for a share (`toxicity`) of the connections."""

    name: str
    type: str
    stream: str = "downstream"
    attributes: tuple[tuple[str, int], ...] = ()
    toxicity: float = 1.0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }


class Toxiproxy:
    """Toxiproxy's HTTP API, the few calls the faults make."""

    def __init__(self, settings: MeshSettings, timeout_s: float = 5.0) -> None:
        self.settings = settings
        self.url = f"http://{TOXIPROXY_HOST}:{settings.toxiproxy_port}"
        self._timeout_s = timeout_s

    def _request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        response = httpx.request(method, f"{self.url}{path}", json=body, timeout=self._timeout_s)
        if response.status_code >= 400:
            raise StackError(f"Toxiproxy refused {method} {path}: {response.status_code} {response.text.strip()}")
        return response

    def version(self) -> str:
        return self._request("GET", "/version").text.strip()

    def populate(self) -> None:
        """One proxy per upstream, listening on loopback (idempotent: an existing proxy with the same
        addresses is kept, with its toxics)."""
        proxies = [
            {
                "name": upstream,
                "listen": proxy_address(self.settings, upstream),
                "upstream": upstream_address(self.settings, upstream),
                "enabled": True,
            }
            for upstream in UPSTREAMS
        ]
        self._request("POST", "/populate", proxies)

    def proxies(self) -> dict[str, Any]:
        found: dict[str, Any] = self._request("GET", "/proxies").json()
        return found

    def add_toxic(self, proxy: str, toxic: Toxic) -> None:
        self._request("POST", f"/proxies/{proxy}/toxics", toxic.as_json())

    def toxics(self, proxy: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._request("GET", f"/proxies/{proxy}/toxics").json()
        return found

    def remove_toxics(self, proxy: str) -> list[str]:
        """Every toxic of the proxy removed; their names. Connections a `timeout` toxic held are closed
        by Toxiproxy as it goes, so clients reconnect at once rather than wait for their own timeouts."""
        names = [str(t["name"]) for t in self.toxics(proxy)]
        for name in names:
            self._request("DELETE", f"/proxies/{proxy}/toxics/{name}")
        return names


def _answers(settings: MeshSettings) -> bool:
    try:
        Toxiproxy(settings, timeout_s=2).version()
        return True
    except (httpx.HTTPError, StackError):
        return False


def start_toxiproxy(settings: MeshSettings, timeout_s: float = 30) -> Toxiproxy:
    """Start Toxiproxy (building it first if needed; idempotent), with its proxies in front of the broker
    and S3, each on 127.0.0.1 only."""
    process = toxiproxy_process(settings)
    if not process.is_running():
        for port in (settings.toxiproxy_port, settings.toxiproxy_kafka_port, settings.toxiproxy_s3_port):
            if not is_free(TOXIPROXY_HOST, port):
                raise PortTaken(NAME, port, holder_of(port))
        binary = install(settings.cache_dir, settings.home / "logs" / "toxiproxy-build.log")
        # Its default level traces every connection: the log would outgrow the fault.
        env = dict(os.environ) | {"LOG_LEVEL": "info"}
        process.start([str(binary), "-host", TOXIPROXY_HOST, "-port", str(settings.toxiproxy_port)], env=env)
    deadline = time.monotonic() + timeout_s
    while not _answers(settings):
        if process.exited_early():
            raise ComponentFailed(NAME, "its process exited", process.log_path, process.log_tail())
        if time.monotonic() > deadline:
            raise ComponentFailed(
                NAME, f"no answer on port {settings.toxiproxy_port} after {timeout_s:.0f} s", process.log_path
            )
        time.sleep(0.2)
    proxy = Toxiproxy(settings)
    proxy.populate()
    return proxy


def stop_toxiproxy(settings: MeshSettings) -> bool:
    """Stop Toxiproxy (its proxies and toxics live in memory only); True when it was running."""
    process = toxiproxy_process(settings)
    was_running = process.is_running()
    process.stop(timeout_s=10)
    return was_running
