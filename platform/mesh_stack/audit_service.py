"""The audit log service as a background process of the local mesh, beside the stack's servers and
the products (`mesh audit run` detached, tracked by a pid file, stopped with its process group)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from mesh_config import MeshSettings
from mesh_stack.errors import ComponentFailed
from mesh_stack.process import ManagedProcess

NAME = "audit"


def audit_process(settings: MeshSettings) -> ManagedProcess:
    return ManagedProcess(NAME, settings.home / "run", settings.home / "logs" / f"{NAME}.log")


def status_path(settings: MeshSettings) -> Path:
    """Where the service reports that it runs and how far it got (see `mesh audit run --status-file`)."""
    return settings.home / "run" / f"{NAME}.status.json"


def audit_status(settings: MeshSettings) -> dict[str, object] | None:
    try:
        data = json.loads(status_path(settings).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _environment(settings: MeshSettings) -> dict[str, str]:
    env = settings.environment()
    # settings.environment() drops every MESH_* variable it does not own: the audit log's own
    # options (MESH_AUDIT_RETENTION_DAYS, ...) pass through as they are.
    owned = {f"MESH_{name.upper()}" for name in type(settings).model_fields}
    env.update({k: v for k, v in os.environ.items() if k.startswith("MESH_AUDIT_") and k not in owned})
    return env


def start_audit(settings: MeshSettings, timeout_s: float = 120) -> ManagedProcess:
    """Start `mesh audit run` detached (idempotent) and wait until it has resumed its chain."""
    process = audit_process(settings)
    status = status_path(settings)
    if not process.is_running():
        status.unlink(missing_ok=True)
        mesh = str(Path(sys.executable).parent / "mesh")
        process.start([mesh, "audit", "run", "--status-file", str(status)], env=_environment(settings))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reported = audit_status(settings)
        if reported is not None and reported.get("pid") == process.pid and reported.get("state") == "running":
            return process
        if process.exited_early():
            raise ComponentFailed("audit log", "its process exited", process.log_path, process.log_tail())
        time.sleep(0.25)
    raise ComponentFailed("audit log", f"not running after {timeout_s:.0f} s", process.log_path, process.log_tail())


def stop_audit(settings: MeshSettings) -> bool:
    """Stop the service (it finishes its micro-batch); True when it was running."""
    process = audit_process(settings)
    was_running = process.is_running()
    process.stop(timeout_s=60)
    return was_running
