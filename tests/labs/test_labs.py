"""Every lab's whole path on a mesh of its own, as a learner who gets stuck at every step would take it:
start, every check FAILs, solve each step, every check PASSes, reset, every check FAILs again. The time
each phase took is noted in the lab mesh's state (bench/labs.py reports them against a baseline)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_config import MeshSettings
from mesh_labs import LabRunner
from mesh_labs.catalogue import lab_folders

REPO = Path(__file__).resolve().parents[2]
LABS = lab_folders(REPO / "labs")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def timings(lab_mesh: MeshSettings) -> Iterator[dict[str, dict[str, float]]]:
    measured: dict[str, dict[str, float]] = {}
    yield measured
    (lab_mesh.home / "labs" / "timings.json").write_text(json.dumps(measured, indent=2) + "\n")


def _timed(what: dict[str, float], phase: str, began: float) -> None:
    what[phase] = round(time.monotonic() - began, 2)


@pytest.mark.parametrize("folder", LABS, ids=[f.name for f in LABS])
def test_a_lab_fails_before_the_learner_acts_passes_once_solved_and_resets(
    lab_mesh: MeshSettings, folder: Path, timings: dict[str, dict[str, float]]
) -> None:
    runner = LabRunner(lab_mesh)
    measured = timings.setdefault(folder.name, {})

    began = time.monotonic()
    loaded = runner.start(folder.name)
    _timed(measured, "start_s", began)
    try:
        before = runner.check()
        premature = [f"{r.step.id}: {r.outcome.saw}" for r in before if r.outcome.passed]
        assert not premature, f"checks that pass before the learner acted: {premature}"
        assert all(r.hint for r in before), "every failed check gives a hint"

        began = time.monotonic()
        for step in loaded.spec.steps:
            solved = runner.solve(step.id)
            assert solved.outcome.passed, f"{step.id} still fails after its solve: {solved.outcome.saw}"
        _timed(measured, "solve_s", began)
        after = runner.check()
        assert [r.step.id for r in after if not r.outcome.passed] == [], [r.outcome.saw for r in after]
        kept = runner.progress().labs[loaded.name]
        assert all(kept.steps[s].status == "passed" and kept.steps[s].solved for s in loaded.spec.step_ids)
    finally:  # the next lab starts from this one's start state, whatever happened here
        began = time.monotonic()
        runner.reset()
        _timed(measured, "reset_s", began)
    again = runner.check()
    assert not [r.step.id for r in again if r.outcome.passed], "after a reset, every check fails again"
