"""Run by datacontract-cli's own interpreter (mesh_stack.datacontract_cli), never imported by the mesh:
writes every check datacontract-cli reports, with its result, as JSON to the file named first.

Usage: python _datacontract_runner.py REPORT.json lint CONTRACT.yaml...
       python _datacontract_runner.py REPORT.json test CONTRACT.yaml SERVER"""

from __future__ import annotations

import json
import sys
from typing import Any

from datacontract.data_contract import DataContract


def _checks(run: Any) -> list[dict[str, str | None]]:
    return [
        {"result": getattr(c.result, "value", str(c.result)), "name": c.name, "reason": c.reason} for c in run.checks
    ]


def lint(contracts: list[str]) -> dict[str, list[dict[str, str | None]]]:
    # What `datacontract lint` runs, with every schema error rather than the first, and without
    # fetching the authoritative definitions a contract may link to (the test works offline).
    return {
        path: _checks(DataContract(data_contract_file=path, all_errors=True, inline_references=False).lint())
        for path in contracts
    }


def test(contract: str, server: str) -> list[dict[str, str | None]]:
    """What `datacontract test` runs against one of the contract's servers."""
    return _checks(DataContract(data_contract_file=contract, server=server, inline_references=False).test())


def main(report: str, command: str, args: list[str]) -> None:
    found = lint(args) if command == "lint" else test(args[0], args[1])
    with open(report, "w") as out:
        json.dump(found, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
