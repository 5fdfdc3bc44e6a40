"""`contract.yaml`: the product's data contract in the Open Data Contract Standard v3.

Validated against the standard's published JSON schema (shipped in `open-data-contract-standard`),
then against the few rules the mesh's runtime relies on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft201909Validator
from open_data_contract_standard.model import OpenDataContractStandard, SchemaObject, SchemaProperty

from mesh_sdk.spec.errors import SpecError, SpecProblem, field_path

LOGICAL_TYPES = {"string", "date", "timestamp", "time", "number", "integer", "object", "array", "boolean"}
PII = "pii"


@cache
def _odcs_validator() -> Draft201909Validator:
    schema = json.loads(resources.files("open_data_contract_standard").joinpath("schema.json").read_text())
    return Draft201909Validator(schema)


@dataclass(frozen=True)
class Contract:
    path: Path
    model: OpenDataContractStandard

    def object(self, name: str) -> SchemaObject:
        for obj in self.model.schema_ or []:
            if obj.name == name:
                return obj
        raise KeyError(f"{self.path}: no schema object named {name!r}")

    def properties(self, name: str) -> list[SchemaProperty]:
        return list(self.object(name).properties or [])

    def pii_columns(self, name: str) -> list[str]:
        return [p.name for p in self.properties(name) if p.name and (p.classification or "").lower() == PII]

    def primary_key(self, name: str) -> list[str]:
        keyed = [p for p in self.properties(name) if p.primaryKey and p.name]
        return [p.name for p in sorted(keyed, key=lambda p: p.primaryKeyPosition or 0) if p.name]


def load_contract(path: Path) -> Contract:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem(path, "", f"not valid YAML ({exc})", "fix the YAML syntax")]) from exc
    problems = [
        SpecProblem(path, field_path(err.absolute_path), err.message, _fix_for(err.validator, err.validator_value))
        for err in sorted(_odcs_validator().iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems:
        raise SpecError(problems)
    contract = Contract(path, OpenDataContractStandard.model_validate(raw))
    problems = _mesh_rules(contract, raw)
    if problems:
        raise SpecError(problems)
    return contract


def _fix_for(validator: str, expected: Any) -> str:
    if validator == "required":
        return f"add the required field(s) {expected}"
    if validator == "enum":
        return f"use one of {expected}"
    if validator == "const":
        return f"set it to {expected!r}"
    if validator in ("type", "format", "pattern"):
        return f"give a value of the expected {validator} ({expected})"
    if validator in ("additionalProperties", "unevaluatedProperties"):
        return "remove the unknown field or check its spelling against the ODCS v3 reference"
    return "correct the value as the Open Data Contract Standard v3 describes"


def _mesh_rules(contract: Contract, raw: dict[str, Any]) -> list[SpecProblem]:
    """What the runtime needs beyond the standard: typed, described properties, and a version."""
    path, problems = contract.path, []
    if not (contract.model.schema_ or []):
        problems.append(SpecProblem(path, "schema", "the contract has no schema", "describe the output data"))
    for i, obj in enumerate(contract.model.schema_ or []):
        for j, prop in enumerate(obj.properties or []):
            where = field_path(("schema", i, "properties", j))
            if not prop.description:
                problems.append(
                    SpecProblem(
                        path,
                        f"{where}.description",
                        f"{prop.name} has no description",
                        "say what the column means to a consumer",
                    )
                )
            if prop.logicalType not in LOGICAL_TYPES:
                problems.append(
                    SpecProblem(
                        path,
                        f"{where}.logicalType",
                        f"{prop.name} has logicalType {prop.logicalType!r}",
                        f"use one of {sorted(LOGICAL_TYPES)}",
                    )
                )
    return problems
