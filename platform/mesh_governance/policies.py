"""The mesh's global policies, read from their file in the repository (`governance/policies.yaml`).

A policy is data: an id, a title, why it exists, how severe a violation is, how to fix one, and the rule
(in `rules`) that checks it with the policy's parameters. Loading refuses a file the engine could not
apply faithfully: an unknown rule, a duplicate id, a severity other than `refuse` or `warn`."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from mesh_governance.rules import RULES

POLICY_ID = re.compile(r"^GOV-\d{3}$")


class Severity(StrEnum):
    REFUSE = "refuse"  # a registration with this violation is refused
    WARN = "warn"  # accepted, and shown on the product


class PolicyError(ValueError):
    """A policy file the engine cannot apply; `where` is a path like `policies[2].severity`."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source, self.where, self.problem = source, where, problem
        super().__init__(f"{source}: {where} {problem}")


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    severity: Severity
    rule: str
    rationale: str
    fix: str
    parameters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity.value,
            "rule": self.rule,
            "rationale": self.rationale,
            "fix": self.fix,
            "parameters": dict(self.parameters),
        }


@dataclass(frozen=True)
class PolicySet:
    version: int
    digest: str  # the file's git blob id: `git hash-object <file>`, or `git log --find-object=<digest>`
    source: str
    policies: tuple[Policy, ...]

    def get(self, policy_id: str) -> Policy:
        for policy in self.policies:
            if policy.id == policy_id:
                return policy
        raise KeyError(policy_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "digest": self.digest,
            "source": self.source,
            "policies": [p.as_dict() for p in self.policies],
        }


NO_POLICIES = PolicySet(0, "", "<none>", ())


def directives(policies: PolicySet) -> dict[str, Any]:
    """What the policies ask every running product to do, as the catalog publishes it on the control
    topic: the classifications of column masked on every port (from each `masks_classified` policy)."""
    classes: list[str] = []
    for policy in policies.policies:
        if policy.rule == "masks_classified":
            classes += [c for c in policy.parameters.get("classifications", []) if c not in classes]
    return {"mask_classifications": classes}


def git_blob_id(content: bytes) -> str:
    """What `git hash-object` prints for a file with this content."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def load_policies(path: Path, source: str | None = None) -> PolicySet:
    """Read the policy file at `path`; `source` is how to name it (default: the path)."""
    name = source or str(path)
    content = path.read_bytes()
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise PolicyError(name, "<root>", f"is not valid YAML ({exc})") from None
    return parse_policies(data, name, git_blob_id(content))


def parse_policies(data: Any, source: str, digest: str = "") -> PolicySet:
    if not isinstance(data, dict):
        raise PolicyError(source, "<root>", "is not a mapping with `version` and `policies`")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PolicyError(source, "version", f"is {version!r}, expected a whole number from 1")
    items = data.get("policies")
    if not isinstance(items, list) or not items:
        raise PolicyError(source, "policies", "is missing or empty, expected a list of policies")
    policies: list[Policy] = []
    for i, item in enumerate(items):
        policy = _policy(item, f"policies[{i}]", source)
        if any(p.id == policy.id for p in policies):
            raise PolicyError(source, f"policies[{i}].id", f"{policy.id} is used twice: policy ids are unique")
        policies.append(policy)
    return PolicySet(version, digest, source, tuple(policies))


def _policy(item: Any, where: str, source: str) -> Policy:
    if not isinstance(item, dict):
        raise PolicyError(source, where, "is not a mapping")
    known = {"id", "title", "severity", "rule", "rationale", "fix", "parameters"}
    unknown = sorted(set(item) - known)
    if unknown:
        fields = ", ".join(sorted(known))
        raise PolicyError(source, f"{where}.{unknown[0]}", f"is not a policy field (fields: {fields})")

    def text(key: str) -> str:
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            raise PolicyError(source, f"{where}.{key}", "is missing, expected text")
        return " ".join(value.split())

    policy_id = text("id")
    if not POLICY_ID.match(policy_id):
        raise PolicyError(source, f"{where}.id", f"is {policy_id!r}, expected GOV-<three digits>")
    severity_text = text("severity")
    try:
        severity = Severity(severity_text)
    except ValueError:
        raise PolicyError(source, f"{where}.severity", f"is {severity_text!r}, expected refuse or warn") from None
    rule_name = text("rule")
    rule = RULES.get(rule_name)
    if rule is None:
        raise PolicyError(source, f"{where}.rule", f"is {rule_name!r}, expected one of {', '.join(sorted(RULES))}")
    parameters = item.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise PolicyError(source, f"{where}.parameters", "is not a mapping")
    for key, value in parameters.items():
        expected = rule.parameters.get(key)
        if expected is None:
            allowed = ", ".join(sorted(rule.parameters)) or "none"
            raise PolicyError(source, f"{where}.parameters.{key}", f"is not a parameter of {rule_name} ({allowed})")
        if not _conforms(value, expected):
            raise PolicyError(source, f"{where}.parameters.{key}", f"is {value!r}, expected {expected}")
    return Policy(
        policy_id,
        text("title"),
        severity,
        rule_name,
        text("rationale"),
        text("fix"),
        MappingProxyType(dict(parameters)),
    )


def _conforms(value: Any, expected: str) -> bool:
    if expected == "text":
        return isinstance(value, str) and bool(value)
    # "list of text"
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)
