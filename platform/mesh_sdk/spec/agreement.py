"""The Avro schema a product consumes and the contract it publishes must describe the same columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from open_data_contract_standard.model import SchemaProperty

from mesh_sdk.spec.column_types import avro_logical_type
from mesh_sdk.spec.errors import SpecProblem


def disagreements(
    avro: dict[str, Any], avro_path: Path, props: list[SchemaProperty], contract_path: Path
) -> list[SpecProblem]:
    """Columns missing on either side, or with different types or nullability. Columns the product
    computes itself (a `transformLogic` in the contract) are not expected in the input schema."""
    fields = {f["name"]: f for f in avro.get("fields", [])}
    sourced = {p.name: p for p in props if p.name and not p.transformLogic}
    problems = []
    for name in sorted(set(fields) - set(sourced)):
        problems.append(
            SpecProblem(
                contract_path,
                "schema.properties",
                f"Avro field {name} is not in the contract",
                f"describe {name} in the contract, or remove it from {avro_path.name}",
            )
        )
    for name in sorted(set(sourced) - set(fields)):
        problems.append(
            SpecProblem(
                avro_path,
                "fields",
                f"contract property {name} is not in the Avro schema",
                f"add {name} to {avro_path.name}, or mark it with transformLogic if the product computes it",
            )
        )
    for name in sorted(set(fields) & set(sourced)):
        prop, field_type = sourced[name], fields[name]["type"]
        logical = avro_logical_type(field_type)
        if logical != prop.logicalType:
            problems.append(
                SpecProblem(
                    contract_path,
                    f"properties.{name}.logicalType",
                    f"{name} is {prop.logicalType} in the contract but Avro {field_type!r} ({logical})",
                    "make the two types agree",
                )
            )
        nullable = isinstance(field_type, list) and "null" in field_type
        if bool(prop.required) == nullable:
            problems.append(
                SpecProblem(
                    contract_path,
                    f"properties.{name}.required",
                    f"{name} is {'required' if prop.required else 'optional'} in the contract but "
                    f"{'nullable' if nullable else 'not nullable'} in Avro",
                    "make required agree with a union with null",
                )
            )
    return problems
