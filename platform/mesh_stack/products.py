"""Data products run as background processes of the local mesh, beside the stack's servers."""

from __future__ import annotations

import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mesh_config import MeshSettings
from mesh_stack.errors import ComponentFailed
from mesh_stack.process import ManagedProcess

PREFIX = "product-"


@dataclass(frozen=True)
class ProductPorts:
    http: int
    sql: int


def product_process(settings: MeshSettings, name: str) -> ManagedProcess:
    return ManagedProcess(f"{PREFIX}{name}", settings.home / "run", settings.home / "logs" / f"{PREFIX}{name}.log")


def _token_path(settings: MeshSettings, name: str) -> Path:
    return settings.home / "run" / f"{PREFIX}{name}.token"


def control_token(settings: MeshSettings, name: str) -> str:
    """The bearer token of a running product's control port (the platform chose it at start)."""
    path = _token_path(settings, name)
    if not path.exists():
        raise FileNotFoundError(f"product {name} was not started by this mesh (`mesh start products/{name}`)")
    return path.read_text().strip()


class ControlRefused(RuntimeError):
    """A product's control port refused a command, or did not answer; the message says which and why."""


def control_command(base: str, token: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """POST /control/commands/NAME on the product at `base` (a derived product's decision taken by
    people: a data steward's match, say) and its answer."""
    try:
        answer = httpx.post(
            f"{base}/control/commands/{name}", json=arguments, headers={"Authorization": f"Bearer {token}"}, timeout=300
        )
    except httpx.HTTPError as exc:
        raise ControlRefused(f"no answer at {base} ({exc}): is the product running (`mesh status`)?") from None
    if answer.status_code >= 400:
        try:
            detail = answer.json().get("detail", answer.text)
        except ValueError:
            detail = answer.text
        raise ControlRefused(f"the product refused {name}: {detail}")
    done: dict[str, Any] = answer.json()
    return done


def start_product(settings: MeshSettings, folder: Path, ports: ProductPorts, timeout_s: float = 120) -> str:
    """Start `mesh run <folder>` detached (idempotent) and wait until its ports answer. The platform
    keeps the product's control token, readable by its user only."""
    name = folder.resolve().name
    process = product_process(settings, name)
    base = f"http://{settings.host}:{ports.http}"
    if not process.is_running():
        mesh = str(Path(sys.executable).parent / "mesh")
        argv = [mesh, "run", str(folder.resolve()), "--http-port", str(ports.http), "--sql-port", str(ports.sql)]
        token = secrets.token_urlsafe(24)
        path = _token_path(settings, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(token)
        process.start(argv, env=settings.environment() | {"MESH_CONTROL_TOKEN": token})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return base
        except httpx.HTTPError:
            pass
        if process.exited_early():
            raise ComponentFailed(f"product {name}", "its process exited", process.log_path, process.log_tail())
        time.sleep(0.5)
    raise ComponentFailed(
        f"product {name}", f"no answer on {base} after {timeout_s:.0f} s", process.log_path, process.log_tail()
    )


def running_products(settings: MeshSettings) -> list[ManagedProcess]:
    run = settings.home / "run"
    names = sorted(p.stem.removeprefix(PREFIX) for p in run.glob(f"{PREFIX}*.pid")) if run.exists() else []
    return [product_process(settings, n) for n in names]


def stop_product(settings: MeshSettings, name: str, timeout_s: float = 60) -> bool:
    """Stop one product (SIGTERM, then SIGKILL after the timeout); False if it was not running."""
    process = product_process(settings, name)
    running = process.is_running()
    process.stop(timeout_s=timeout_s)
    return running


def stop_products(settings: MeshSettings) -> list[str]:
    stopped = []
    for process in running_products(settings):
        if process.is_running():
            stopped.append(process.name)
        process.stop(timeout_s=60)
    return stopped
