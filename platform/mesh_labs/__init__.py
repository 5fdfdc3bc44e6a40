"""Hands-on labs on the running mesh: each `labs/NN-slug/` folder declares what it teaches and needs
(lab.yaml) and how to check, solve and reset each step (checks.py); `mesh lab` runs them."""

from mesh_labs import traffic
from mesh_labs.catalogue import LoadedLab, load_lab
from mesh_labs.lab import Lab, Outcome, failed, passed
from mesh_labs.mesh import LabMesh
from mesh_labs.runner import LabError, LabRunner, StepResult

__all__ = [
    "Lab",
    "LabError",
    "LabMesh",
    "LabRunner",
    "LoadedLab",
    "Outcome",
    "StepResult",
    "failed",
    "load_lab",
    "passed",
    "traffic",
]
