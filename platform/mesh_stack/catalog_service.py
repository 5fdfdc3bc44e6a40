"""The data product catalog as a background process of the local mesh, beside the stack's servers and
the products (`mesh catalog run` detached, tracked by a pid file, stopped with its process group)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx

from mesh_config import MeshSettings
from mesh_stack.errors import ComponentFailed
from mesh_stack.process import ManagedProcess

NAME = "catalog-service"  # "catalog" is the stack's Iceberg catalog; "product-*" names products


def catalog_process(settings: MeshSettings) -> ManagedProcess:
    return ManagedProcess(NAME, settings.home / "run", settings.home / "logs" / f"{NAME}.log")


def _answering_pid(settings: MeshSettings) -> int | None:
    try:
        response = httpx.get(f"{settings.product_catalog_endpoint}/health", timeout=2)
        pid = response.json().get("pid") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return pid if isinstance(pid, int) else None


def start_catalog(settings: MeshSettings, timeout_s: float = 60) -> ManagedProcess:
    """Start `mesh catalog run` detached (idempotent) and wait until it answers. The answer must come
    from the process started here (its health reports its pid), not from another mesh's catalog."""
    process = catalog_process(settings)
    if not process.is_running():
        mesh = str(Path(sys.executable).parent / "mesh")
        process.start([mesh, "catalog", "run"], env=settings.environment())
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _answering_pid(settings) == process.pid:
            return process
        if process.exited_early():
            raise ComponentFailed(NAME, "its process exited", process.log_path, process.log_tail())
        time.sleep(0.25)
    raise ComponentFailed(
        NAME,
        f"no answer on {settings.product_catalog_endpoint} after {timeout_s:.0f} s",
        process.log_path,
        process.log_tail(),
    )


def stop_catalog(settings: MeshSettings) -> bool:
    """Stop the service (its registrations are on disk); True when it was running."""
    process = catalog_process(settings)
    was_running = process.is_running()
    process.stop(timeout_s=30)
    return was_running
