"""Run by datacontract-cli's own interpreter (mesh_stack.datacontract_cli), never imported by the mesh:
lints each contract named on the command line as `datacontract lint` does, and writes every check it
reports, with its result, as JSON to the file named first.

Usage: python _datacontract_lint.py REPORT.json CONTRACT.yaml..."""

from __future__ import annotations

import json
import sys

from datacontract.data_contract import DataContract


def main(report: str, contracts: list[str]) -> None:
    found: dict[str, list[dict[str, str | None]]] = {}
    for path in contracts:
        # What `datacontract lint` runs, with every schema error rather than the first, and without
        # fetching the authoritative definitions a contract may link to (the test works offline).
        run = DataContract(data_contract_file=path, all_errors=True, inline_references=False).lint()
        found[path] = [
            {"result": getattr(c.result, "value", str(c.result)), "name": c.name, "reason": c.reason}
            for c in run.checks
        ]
    with open(report, "w") as out:
        json.dump(found, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
