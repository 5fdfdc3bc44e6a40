"""Every data contract of the repository passes the Open Data Contract Standard's reference validator
(datacontract-cli's `datacontract lint`) with no error and no warning: what the mesh accepts, the
standard's own tools accept and can test. The validator runs from its own virtualenv in the download
cache (mesh_stack.datacontract_cli says why), installed the first time."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mesh_config import load_settings
from mesh_stack.datacontract_cli import Finding, install, lint
from mesh_stack.errors import MissingDependency
from mesh_testing.products import product_folders

REPO = Path(__file__).resolve().parents[2]
_KIND = re.compile(r"^kind:\s*DataContract\s*$", re.MULTILINE)


def repository_contracts(root: Path = REPO) -> list[Path]:
    """Every ODCS document in the tree: products, lab starters, test fixtures; not local state."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix in (".yaml", ".yml") and _KIND.search(path.read_text(errors="replace")):
                found.append(path)
    return found


CONTRACTS = repository_contracts()
PLAYBACK = REPO / "products" / "playback.events" / "contract.yaml"


def _playback_with(change: Any, folder: Path, name: str) -> Path:
    contract = yaml.safe_load(PLAYBACK.read_text())
    change(contract)
    path = folder / name
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    return path


def _range_as_invalid_values(contract: dict[str, Any]) -> None:
    """The form the contracts used before, which the validator cannot test."""
    position = next(p for p in contract["schema"][0]["properties"] if p["name"] == "position_ms")
    position["quality"] = [{"metric": "invalidValues", "arguments": {"minimum": 0, "maximum": 9}, "mustBe": 0}]


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Copies of a good contract, each broken in a way the validator must report."""
    folder = tmp_path_factory.mktemp("broken-contracts")
    return {
        "older version": _playback_with(lambda c: c.update(apiVersion="v3.0.2"), folder, "v3.0.2.yaml"),
        "untestable rule": _playback_with(_range_as_invalid_values, folder, "invalid-values-range.yaml"),
    }


@pytest.fixture(scope="module")
def report(broken: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[Path, list[Finding]]:
    settings = load_settings()
    try:
        python = install(settings.cache_dir, settings.home / "logs" / "datacontract-cli-install.log")
    except MissingDependency as missing:
        if os.environ.get("CI"):
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    # One run for all: the validator takes seconds to start.
    return lint(python, [*CONTRACTS, *broken.values()], tmp_path_factory.mktemp("lint") / "report.json")


def test_the_contracts_are_found_wherever_they_are() -> None:
    found = {str(p.relative_to(REPO)) for p in CONTRACTS}
    products = {str(p.with_name("contract.yaml").relative_to(REPO)) for p in REPO.glob("products/*/dataproduct.yaml")}
    assert len(products) == len(product_folders()) and products <= found
    assert {
        "labs/12-derived-product/starter/contract.yaml",
        "labs/16-shared-storage/starter/contract.yaml",
        "products/subscriptions.customers/tests/downstream/contract.yaml",
    } <= found


def test_every_contract_passes_the_reference_validator_without_a_warning(report: dict[Path, list[Finding]]) -> None:
    problems = [
        f"{path.relative_to(REPO)}: {f.result}: {f.name}: {f.reason}"
        for path in CONTRACTS
        for f in report[path]
        if not f.passed
    ]
    assert problems == [], "\n".join(problems)
    for path in CONTRACTS:
        declared = yaml.safe_load(path.read_text())["apiVersion"]
        names = [f.name for f in report[path]]
        assert f"Data contract is valid against ODCS {declared}" in names, f"{path.relative_to(REPO)}: {names}"


def test_the_validator_reports_a_contract_that_declares_an_older_version(
    report: dict[Path, list[Finding]], broken: dict[str, Path]
) -> None:
    failed = [f for f in report[broken["older version"]] if f.result == "failed"]
    assert failed, report[broken["older version"]]
    assert any("v3.0.2" in f.name and "'timestamp' is not one of" in (f.reason or "") for f in failed)


def test_the_validator_warns_of_a_range_it_cannot_test(
    report: dict[Path, list[Finding]], broken: dict[str, Path]
) -> None:
    warnings = [f for f in report[broken["untestable rule"]] if f.result == "warning"]
    assert [f.name for f in warnings] == ["Quality rule on events_history_v1.position_ms cannot be tested"]
