"""Errors in a product's specification files, each naming the file, the field and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SpecProblem:
    file: Path
    field: str  # a path like "schema[0].properties[3].classification"
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field or '<root>'}: {self.problem}. Fix: {self.fix}"


class SpecError(ValueError):
    """One or more problems in a product's files; the message lists every one of them."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the product specification:\n{lines}")


def field_path(parts: object) -> str:
    """("schema", 0, "properties", 3, "name") -> "schema[0].properties[3].name"."""
    out = ""
    for part in parts:  # type: ignore[attr-defined]
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
