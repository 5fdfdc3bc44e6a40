"""Lab 09's checks: the audit-tamper fault's own record of what it forged (its state under the mesh's
chaos directory, written since the lab started), the learner's answers, and the chain verified again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
FAULT = "audit-tamper"


def _forged(mesh: LabMesh) -> dict[str, Any] | None:
    """What the fault forged, if it ran since the lab started."""
    state = mesh.settings.home / "chaos" / f"{FAULT}.json"
    started = datetime.fromisoformat(mesh.progress.started_at or "1970-01-01T00:00:00+00:00")
    if not state.exists() or datetime.fromtimestamp(state.stat().st_mtime).astimezone() < started:
        return None
    tampered: dict[str, Any] | None = json.loads(state.read_text()).get("tampered")
    return tampered


def _verify(mesh: LabMesh) -> Any:
    from mesh_audit.verify import open_stores, verify_stores

    return verify_stores(*open_stores(mesh.settings), settle_s=5)


@lab.reset
def end_the_forgery(mesh: LabMesh) -> None:
    _end_fault(mesh)


def _end_fault(mesh: LabMesh) -> None:
    from mesh_chaos.experiments import find_fault
    from mesh_chaos.runner import stop_fault

    pid = mesh.baseline.pop("fault_run", None)
    if pid is not None:
        try:
            os.kill(int(pid), signal.SIGINT)
            # It restores the record and checks the chain before it ends: minutes on a loaded machine.
            mesh.wait_ended(int(pid), "the fault's run to end", 180)
        except ProcessLookupError:
            pass
    if (mesh.settings.home / "chaos" / "in-progress").exists() or _forged(mesh):
        stop_fault(mesh.settings, find_fault(mesh.settings.faults_dir, FAULT))


@lab.check("tamper")
def tampered(mesh: LabMesh) -> Outcome:
    forged = _forged(mesh)
    if forged is None:
        return failed("no record of the audit log was rewritten since the lab started")
    return passed(f"the insider rewrote record {forged['sequence']}")


@lab.solve("tamper")
def run_the_insider(mesh: LabMesh) -> None:
    argv = [str(Path(sys.executable).parent / "mesh"), "chaos", "run", FAULT, "--duration", "600"]
    run = subprocess.Popen(argv, env=mesh.settings.environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mesh.baseline["fault_run"] = run.pid
    mesh.wait_for(lambda: _forged(mesh), "the forgery", 120)


@lab.check("find")
def found(mesh: LabMesh) -> Outcome:
    forged = _forged(mesh)
    if forged is None:
        return failed("nothing was forged yet")
    answer = mesh.answer("find")
    if answer != str(forged["sequence"]):
        return failed(f"{answer!r} is not the first broken link of the chain")
    return passed(f"record {answer} is the forged one")


@lab.solve("find")
def verify(mesh: LabMesh) -> None:
    report = _verify(mesh)
    assert report.broken is not None, "verify finds the chain intact: the forgery is gone already"
    mesh.give_answer("find", report.broken.sequence)


@lab.check("field")
def changed_field(mesh: LabMesh) -> Outcome:
    forged = _forged(mesh)
    if forged is None:
        return failed("nothing was forged yet")
    answer = mesh.answer("field").strip().lower()
    if answer != forged["field"]:
        return failed(f"{answer!r} is the same in the table and in the locked copy")
    return passed(f"the insider changed {answer}; the locked copy still has the original")


@lab.solve("field")
def compare_copies(mesh: LabMesh) -> None:
    from mesh_audit.verify import both_copies, open_stores

    copies = both_copies(*open_stores(mesh.settings), int(mesh.answer("find")))
    mesh.give_answer("field", copies.differences()[0])


@lab.check("restore")
def restored(mesh: LabMesh) -> Outcome:
    forged = _forged(mesh)
    if forged is None:
        return failed("nothing was forged yet")
    if not forged.get("restored"):
        return failed(f"record {forged['sequence']} is still forged: let the fault end, or stop it")
    report = _verify(mesh)
    if report.broken is not None:
        return failed(f"verify still finds a broken link: sequence {report.broken.sequence}")
    return passed(f"record {forged['sequence']} restored from the locked copy; the chain is intact")


@lab.solve("restore")
def end_it(mesh: LabMesh) -> None:
    _end_fault(mesh)
