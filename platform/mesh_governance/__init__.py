"""Computational governance: the mesh's global policies, as code versioned in the repository
(`governance/policies.yaml`, checked by `rules`), evaluated on catalog entries.

Pure: `load_policies` reads one file, `evaluate` returns the violations of one entry. The catalog calls
it when a product registers (a `refuse` violation refuses the registration) and at every pull."""

from mesh_governance.engine import Violation, evaluate, refusals
from mesh_governance.policies import (
    NO_POLICIES,
    Policy,
    PolicyError,
    PolicySet,
    Severity,
    directives,
    git_blob_id,
    load_policies,
    parse_policies,
)
from mesh_governance.rules import RULES, Finding, Rule

__all__ = [
    "NO_POLICIES",
    "RULES",
    "Finding",
    "Policy",
    "PolicyError",
    "PolicySet",
    "Rule",
    "Severity",
    "Violation",
    "directives",
    "evaluate",
    "git_blob_id",
    "load_policies",
    "parse_policies",
    "refusals",
]
