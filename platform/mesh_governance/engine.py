"""Evaluating the policies on a catalog entry: every violation names the policy, the product, the field
(its path in the product's discovery document), what is wrong and the fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mesh_discovery.entries import CatalogEntry
from mesh_governance.policies import Policy, PolicySet, Severity
from mesh_governance.rules import RULES


@dataclass(frozen=True)
class Violation:
    policy: str  # GOV-001
    title: str
    severity: Severity
    product: str
    field: str
    problem: str
    fix: str

    @property
    def refuses(self) -> bool:
        return self.severity is Severity.REFUSE

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "title": self.title,
            "severity": self.severity.value,
            "product": self.product,
            "field": self.field,
            "problem": self.problem,
            "fix": self.fix,
        }

    def __str__(self) -> str:
        return f"{self.policy} ({self.severity.value}) {self.product}: {self.field} {self.problem}; fix: {self.fix}"


def evaluate(policies: PolicySet, entry: CatalogEntry) -> tuple[Violation, ...]:
    """Every violation of `policies` by `entry`, in the order of the policies."""
    return tuple(v for policy in policies.policies for v in _apply(policy, entry))


def refusals(violations: Iterable[Violation]) -> list[Violation]:
    return [v for v in violations if v.refuses]


def _apply(policy: Policy, entry: CatalogEntry) -> list[Violation]:
    def violation(field: str, problem: str, fix: str | None) -> Violation:
        return Violation(policy.id, policy.title, policy.severity, entry.id, field, problem, fix or policy.fix)

    try:
        return [violation(f.field, f.problem, f.fix) for f in RULES[policy.rule].check(entry, policy.parameters)]
    except Exception as exc:
        # A rule that cannot read this document says so instead of passing it silently (or stopping a pull).
        problem = f"could not be checked: {type(exc).__name__}: {exc}"
        return [violation("<document>", problem, "report this to the platform team with the product's document")]
