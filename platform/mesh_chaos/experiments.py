"""The fault catalogue: each `faults/<name>.yaml` is an experiment in Chaos Toolkit's format (title,
steady-state hypothesis with probes and tolerances, method, rollbacks), plus an extension `mesh` that
says what the fault needs running (and which products reach the broker or S3 through Toxiproxy), what
a learner should observe during it, within how long the steady state must be back, and what mechanism
of the mesh absorbed it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mesh_stack.toxiproxy import UPSTREAMS


class FaultError(ValueError):
    pass


@dataclass(frozen=True)
class Fault:
    name: str
    path: Path
    experiment: dict[str, Any]

    @property
    def mesh(self) -> dict[str, Any]:
        for extension in self.experiment.get("extensions", []):
            if extension.get("name") == "mesh":
                return dict(extension)
        return {}

    @property
    def title(self) -> str:
        return str(self.experiment["title"])

    @property
    def products(self) -> list[str]:
        return list(self.mesh.get("needs", {}).get("products", []))

    @property
    def sources(self) -> list[str]:
        return list(self.mesh.get("needs", {}).get("sources", []))

    @property
    def audit(self) -> bool:
        return bool(self.mesh.get("needs", {}).get("audit", False))

    @property
    def through_toxiproxy(self) -> dict[str, list[str]]:
        """The products that reach the broker or S3 (`kafka`, `s3`) through Toxiproxy for this fault."""
        routes = self.mesh.get("needs", {}).get("through_toxiproxy", {})
        return {str(product): [str(u) for u in upstreams] for product, upstreams in routes.items()}

    @property
    def recover_within_s(self) -> float:
        return float(self.mesh.get("recover_within_s", 120))


def load_fault(path: Path) -> Fault:
    try:
        experiment = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FaultError(f"{path}: cannot be read as YAML: {exc}") from None
    if not isinstance(experiment, dict):
        raise FaultError(f"{path}: an experiment is a mapping (title, steady-state-hypothesis, method, ...)")
    for key in ("title", "description", "steady-state-hypothesis", "method"):
        if key not in experiment:
            raise FaultError(f"{path}: `{key}` is missing (Chaos Toolkit's experiment format)")
    fault = Fault(path.stem, path, experiment)
    for key in ("observe", "explanation", "recover_within_s"):
        if key not in fault.mesh:
            raise FaultError(f"{path}: extensions[name=mesh].{key} is missing: every fault says it")
    for product, upstreams in fault.through_toxiproxy.items():
        if product not in fault.products:
            raise FaultError(f"{path}: {product} goes through Toxiproxy but is not among the products it needs")
        if not upstreams or set(upstreams) - set(UPSTREAMS):
            raise FaultError(f"{path}: {product} goes through Toxiproxy to {upstreams}; choose from {list(UPSTREAMS)}")
    return fault


def catalogue(faults_dir: Path) -> list[Fault]:
    return [load_fault(p) for p in sorted(faults_dir.glob("*.yaml"))]


def find_fault(faults_dir: Path, name: str) -> Fault:
    path = faults_dir / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(p.stem for p in sorted(faults_dir.glob("*.yaml"))) or "none"
        raise FaultError(f"no fault {name!r}; the catalogue: {known}")
    return load_fault(path)
