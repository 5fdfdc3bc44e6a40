"""What a lab's `checks.py` declares: a setup, one check and one solve per step, and a reset.

    lab = Lab()

    @lab.check("find")
    def found(mesh: LabMesh) -> Outcome:
        ...
        return passed(f"you named {answer}") if ok else failed(f"saw {answer!r}")

A check looks at the real system and must fail before the learner acts. A solve does what the learner
would, with the learner's identity. Both get a LabMesh."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from mesh_labs.outcome import Outcome, failed, passed

if TYPE_CHECKING:
    from mesh_labs.mesh import LabMesh

__all__ = ["Action", "Check", "Lab", "Outcome", "failed", "passed"]


Check = Callable[["LabMesh"], Outcome]
Action = Callable[["LabMesh"], None]
F = TypeVar("F")


@dataclass
class Lab:
    checks: dict[str, Check] = field(default_factory=dict)
    solves: dict[str, Action] = field(default_factory=dict)
    setups: list[Action] = field(default_factory=list)
    resets: list[Action] = field(default_factory=list)

    def check(self, step: str) -> Callable[[Check], Check]:
        def register(function: Check) -> Check:
            self.checks[step] = function
            return function

        return register

    def solve(self, step: str) -> Callable[[Action], Action]:
        def register(function: Action) -> Action:
            self.solves[step] = function
            return function

        return register

    def setup(self, function: Action) -> Action:
        """Brings the running profile into the lab's starting state (after `mesh lab start` ran it)."""
        self.setups.append(function)
        return function

    def reset(self, function: Action) -> Action:
        """Undoes what the learner (or a solve) changed; the setup runs again after it."""
        self.resets.append(function)
        return function

    def missing(self, steps: list[str]) -> list[str]:
        """What the lab's checks.py lacks for the steps of its lab.yaml, or has for no step."""
        problems = [f"step {s!r} has no check" for s in steps if s not in self.checks]
        problems += [f"step {s!r} has no solve" for s in steps if s not in self.solves]
        problems += [
            f"{name} for an unknown step {s!r}"
            for name, d in (("check", self.checks), ("solve", self.solves))
            for s in d
            if s not in steps
        ]
        return problems
