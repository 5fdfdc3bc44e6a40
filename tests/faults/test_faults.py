"""Every fault of the catalogue, run as a learner runs it (`mesh chaos run`), on a mesh of its own: the
verdict must say the steady state came back within the fault's bound, nothing lost, nothing doubled."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesh_chaos.experiments import catalogue
from mesh_chaos.runner import run_fault
from mesh_config import MeshSettings

REPO = Path(__file__).resolve().parents[2]
FAULTS = catalogue(REPO / "faults")

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_the_mesh_recovers_from_the_fault_with_nothing_lost(fault_mesh: MeshSettings, fault: object) -> None:
    from mesh_chaos.experiments import Fault

    assert isinstance(fault, Fault)
    verdict = run_fault(fault_mesh, fault, duration_s=15)
    assert verdict.before_met, f"the steady state did not hold before the fault: {verdict.as_dict()}"
    assert verdict.passed, verdict.as_dict()
    if "exact" in verdict.evidence:
        assert verdict.evidence["exact"] is True
