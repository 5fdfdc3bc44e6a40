"""Column-level lineage as a contract declares it: each column's `transformSourceObjects` (Open Data
Contract Standard v3) name the columns its values are computed from.

A reference is `<prefix>.<column>`, where the prefix is one of the product's input ports (then the
column is a column of the upstream product's port, a field of the Kafka record, or a column of the
captured table) or another table of the same contract (a column computed from the product's own
table, such as a daily sum of sessions). Pure and over plain data: the SDK checks a product's folder
with it, the OpenLineage events carry it, and the catalog reads it from discovery documents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SourceRef:
    """Where one column's values come from: `via` is `input` (an input port) or `table` (the same
    product's table); `name` is that port or table, `column` its column or field."""

    via: str
    name: str
    column: str

    def __str__(self) -> str:
        return f"{self.name}.{self.column}"


@dataclass(frozen=True)
class ColumnDerivation:
    table: str
    column: str
    sources: tuple[SourceRef, ...]
    description: str  # how the value is computed (transformDescription, else transformLogic), or ""


@dataclass(frozen=True)
class LineageProblem:
    field: str  # a path like `schema[0].properties[3].transformSourceObjects[1]`
    problem: str
    fix: str


def derivations(
    contract: Mapping[str, Any], input_ports: Iterable[str]
) -> tuple[list[ColumnDerivation], list[LineageProblem]]:
    """Every column of the contract with its sources, and each reference that names neither an input
    port nor a table of the contract (such a reference is left out of the sources)."""
    inputs = set(input_ports)
    objects = [o for o in contract.get("schema") or [] if isinstance(o, dict)]
    tables = {str(o.get("name")) for o in objects}
    out: list[ColumnDerivation] = []
    problems: list[LineageProblem] = []
    for i, obj in enumerate(objects):
        for j, prop in enumerate(p for p in obj.get("properties") or [] if isinstance(p, dict)):
            where = f"schema[{i}].properties[{j}]"
            refs: list[SourceRef] = []
            for k, raw in enumerate(prop.get("transformSourceObjects") or []):
                ref, problem = _reference(raw, inputs, tables, str(obj.get("name")))
                if problem is not None:
                    problems.append(LineageProblem(f"{where}.transformSourceObjects[{k}]", *problem))
                elif ref is not None:
                    refs.append(ref)
            description = str(prop.get("transformDescription") or prop.get("transformLogic") or "")
            out.append(ColumnDerivation(str(obj.get("name")), str(prop.get("name")), tuple(refs), description))
    return out, problems


def _reference(
    raw: object, inputs: set[str], tables: set[str], own: str
) -> tuple[SourceRef | None, tuple[str, str] | None]:
    choices = f"input ports {sorted(inputs)} or tables {sorted(tables - {own})}"
    if not isinstance(raw, str) or "." not in raw.strip(".") or raw.startswith("."):
        return None, (f"is {raw!r}, expected <input port or table>.<column>", f"name a column of {choices}")
    # Input port names may hold dots in principle, columns never: the column is after the last dot.
    prefix, column = raw.rsplit(".", 1)
    if prefix in inputs and prefix in tables:
        return None, (
            f"{raw!r} is ambiguous: {prefix!r} is both an input port and a table",
            "rename the input port in dataproduct.yaml",
        )
    if prefix in inputs:
        return SourceRef("input", prefix, column), None
    if prefix == own:
        return None, (f"{raw!r} names the column's own table", "name the input or other table it comes from")
    if prefix in tables:
        return SourceRef("table", prefix, column), None
    return None, (f"{raw!r} names {prefix!r}, which is neither an input port nor a table", f"use one of {choices}")
