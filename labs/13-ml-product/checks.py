"""Lab 13's checks: the recommender's models table (read from the lakehouse), the learner's reads of it
over SQL (the access log), and the report `mesh ml reproduce` writes under the state directory."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
NAME = "recommendations.next-title"
PRODUCT_ID = "urn:mesh:recommendations:next-title:v1"
MODELS = "recommendations.next_title_models_v1"


def _started(mesh: LabMesh) -> datetime:
    return datetime.fromisoformat(mesh.progress.started_at or "1970-01-01T00:00:00+00:00")


def _models(mesh: LabMesh) -> list[dict[str, Any]]:
    try:
        return sorted(mesh.iceberg_rows(MODELS), key=lambda m: m["version"])
    except Exception:  # no model trained yet
        return []


def _in_service(mesh: LabMesh) -> str | None:
    serving = [m["version"] for m in _models(mesh) if m["in_service"]]
    return serving[-1] if serving else None


def _mesh(mesh: LabMesh, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "mesh"), *args]
    return subprocess.run(command, env=mesh.settings.environment(), capture_output=True, text=True, timeout=600)


@lab.setup
def a_model_serves(mesh: LabMesh) -> None:
    """On a mesh started for this lab, the recommender's next scheduled training may be minutes away: it
    trains a first model as soon as there are viewing sessions to learn from."""
    if _in_service(mesh) is None:
        mesh.wait_for(lambda: _sessions(mesh), "viewing sessions to learn from", 300, pause_s=3)
        done = _mesh(mesh, "retrain", NAME)
        assert done.returncode == 0, done.stderr
    mesh.wait_for(lambda: _in_service(mesh), "the first model in service", 120, pause_s=3)
    mesh.baseline["newest"] = _models(mesh)[-1]["version"]


def _sessions(mesh: LabMesh) -> int:
    try:
        return len(mesh.iceberg_rows("engagement.viewing_sessions_v1"))
    except Exception:  # no table yet
        return 0


@lab.check("retrain")
def retrained(mesh: LabMesh) -> Outcome:
    new = [m for m in _models(mesh) if m["version"] > mesh.baseline["newest"]]
    if not new:
        return failed(f"no model trained since the lab started (the newest is {mesh.baseline['newest']})")
    gate = "passed" if new[-1]["quality_gate_passed"] else "did not pass"
    return passed(f"model {new[-1]['version']} trained on {new[-1]['training_rows']} interactions; its gate {gate}")


@lab.solve("retrain")
def retrain(mesh: LabMesh) -> None:
    done = _mesh(mesh, "retrain", NAME)
    assert done.returncode == 0, done.stderr


@lab.check("compare")
def compared(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("compare").strip()
    serving = _in_service(mesh)
    if answer != serving:
        return failed(f"{answer!r} is not the version in service")
    if not {"sql", "sql_http"} & mesh.learner_ports(PRODUCT_ID):
        return failed("right, but you did not read the models over the product's SQL port")
    return passed(f"{serving} serves; you compared the versions over SQL")


@lab.solve("compare")
def compare(mesh: LabMesh) -> None:
    _, rows = mesh.learner.sql(NAME, f"SELECT version FROM {MODELS} WHERE in_service ORDER BY version DESC LIMIT 1")
    mesh.give_answer("compare", rows[0][0])


def _reproduced(mesh: LabMesh, version: str) -> dict[str, Any] | None:
    report = mesh.settings.home / "ml" / "reproduced" / f"{version}.json"
    if not report.exists():
        return None
    found: dict[str, Any] = json.loads(report.read_text())
    return found if datetime.fromisoformat(found["at"]) >= _started(mesh) else None


@lab.check("reproduce")
def reproduced(mesh: LabMesh) -> Outcome:
    serving = _in_service(mesh)
    if serving is None:
        return failed("no model serves yet")
    report = _reproduced(mesh, serving)
    if report is None:
        return failed(f"model {serving} (in service) has not been reproduced since the lab started")
    if not report["identical"]:
        return failed(f"model {serving} was trained again, and differs from the one stored")
    return passed(f"model {serving} reproduced bit for bit from snapshots {report['pinned']}")


@lab.solve("reproduce")
def reproduce(mesh: LabMesh) -> None:
    serving = _in_service(mesh)
    assert serving is not None, "no model in service"
    done = _mesh(mesh, "ml", "reproduce", serving)
    assert done.returncode == 0, done.stdout + done.stderr
