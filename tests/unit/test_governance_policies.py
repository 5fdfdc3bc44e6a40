"""The policy file: the repository's policies load, and a file the engine could not apply faithfully is
refused naming the entry and the problem."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mesh_governance import RULES, PolicyError, Severity, git_blob_id, load_policies, parse_policies

POLICIES = Path(__file__).resolve().parents[2] / "governance" / "policies.yaml"


def test_the_repositorys_policies_load() -> None:
    policies = load_policies(POLICIES)
    assert policies.version >= 1
    assert [p.id for p in policies.policies] == [f"GOV-{i:03d}" for i in range(1, 15)]
    refusing = {p.id for p in policies.policies if p.severity is Severity.REFUSE}
    assert refusing == {"GOV-001", "GOV-002", "GOV-003", "GOV-004", "GOV-005", "GOV-006"}
    assert {p.rule for p in policies.policies} == set(RULES), "every rule is in force"
    for policy in policies.policies:
        assert policy.title and policy.rationale and policy.fix and "\n" not in policy.fix
    assert policies.get("GOV-002").parameters["classifications"][-1] == "pii"
    served = policies.as_dict()
    assert served["digest"] == policies.digest and served["policies"][0]["severity"] == "refuse"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_digest_is_the_files_git_blob_id(tmp_path: Path) -> None:
    copy = tmp_path / "policies.yaml"
    copy.write_bytes(POLICIES.read_bytes())
    expected = subprocess.run(["git", "hash-object", str(copy)], capture_output=True, text=True, check=True)
    assert load_policies(copy).digest == expected.stdout.strip() == git_blob_id(copy.read_bytes())


def _file() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(POLICIES.read_text())
    return data


def _drop(key: str) -> Any:
    def change(data: dict[str, Any]) -> None:
        del data["policies"][0][key]

    return change


def _set(index: int, key: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["policies"][index][key] = value

    return change


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        (lambda d: d.update(version="one"), "version", "expected a whole number"),
        (lambda d: d.update(policies=[]), "policies", "is missing or empty"),
        (_drop("fix"), "policies[0].fix", "is missing"),
        (_set(0, "id", "POL-1"), "policies[0].id", "expected GOV-<three digits>"),
        (_set(1, "id", "GOV-001"), "policies[1].id", "GOV-001 is used twice"),
        (_set(0, "severity", "block"), "policies[0].severity", "expected refuse or warn"),
        (_drop("severity"), "policies[0].severity", "is missing"),
        (_set(0, "rule", "owner_exists"), "policies[0].rule", "expected one of"),
        (_set(0, "owner", "me"), "policies[0].owner", "is not a policy field"),
        (_set(1, "parameters", {"levels": ["pii"]}), "policies[1].parameters.levels", "not a parameter"),
        (_set(1, "parameters", {"classifications": "pii"}), "policies[1].parameters.classifications", "expected"),
    ],
)
def test_a_policy_file_the_engine_cannot_apply_is_refused(change: Any, where: str, words: str) -> None:
    data = _file()
    change(data)
    with pytest.raises(PolicyError) as caught:
        parse_policies(data, "governance/policies.yaml")
    assert caught.value.where == where and words in caught.value.problem
    assert str(caught.value).startswith(f"governance/policies.yaml: {where} ")


def test_a_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text("policies: [\n")
    with pytest.raises(PolicyError, match="is not valid YAML"):
        load_policies(path)
