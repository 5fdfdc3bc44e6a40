"""A derived product written in SQL alone: its folder holds `derivation/<output port>.sql`, one DuckDB
query per Iceberg output port, over the input ports (each a relation named after its port, a dash
becoming an underscore). Every refresh runs each query and replaces the port's rows with its result,
which suits the small aggregates an analyst writes; a product that must keep state between refreshes
(sessions, a model) writes a `Derivation` class in product.py instead."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mesh_sdk.spec.errors import SpecProblem
from mesh_sdk.spec.logic import Context, Inputs, Update

FOLDER = "derivation"


def sql_files(folder: Path) -> dict[str, Path]:
    """Output port -> its query file, for every `derivation/*.sql` of the product folder."""
    return {path.stem: path for path in sorted((folder / FOLDER).glob("*.sql"))}


def sql_problems(folder: Path, outputs: list[str]) -> list[SpecProblem]:
    """Each Iceberg output port has a query, and each query an output port."""
    files = sql_files(folder)
    problems = [
        SpecProblem(
            folder / FOLDER / f"{port}.sql",
            port,
            f"output port {port!r} has no query",
            f"write the SELECT that computes {port} in {FOLDER}/{port}.sql",
        )
        for port in outputs
        if port not in files
    ]
    problems += [
        SpecProblem(
            path,
            path.stem,
            f"{path.name} names no Iceberg output port (the product has {outputs})",
            "name the file after the output port it computes, or declare that port in dataproduct.yaml",
        )
        for port, path in files.items()
        if port not in outputs
    ]
    problems += [
        SpecProblem(path, path.stem, f"{path.name} holds no query", "write the SELECT that computes the port's rows")
        for path in files.values()
        if not _statement(path.read_text())
    ]
    return problems


def _statement(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("--")).strip()


def sql_derivation(folder: Path) -> type:
    """A Derivation class running the folder's queries (read once, when the product loads)."""
    queries = {port: path.read_text() for port, path in sql_files(folder).items()}

    class SqlDerivation:
        def __init__(self, context: Context) -> None:
            self.context = context

        def refresh(self, inputs: Inputs) -> Mapping[str, Update]:
            return {port: Update.replace(inputs.sql(query)) for port, query in queries.items()}

        def describe(self) -> Mapping[str, object]:
            return {"kind": "sql", "queries": {port: f"{FOLDER}/{port}.sql" for port in queries}}

    return SqlDerivation
