"""Run by datacontract-cli's own interpreter (mesh_stack.datacontract_cli), never imported by the mesh:
tests one contract against one of its servers as `datacontract test` does, and writes every check it
reports, with its result, as JSON to the file named first.

Usage: python _datacontract_test.py REPORT.json CONTRACT.yaml SERVER"""

from __future__ import annotations

import json
import sys

from datacontract.data_contract import DataContract


def main(report: str, contract: str, server: str) -> None:
    run = DataContract(data_contract_file=contract, server=server, inline_references=False).test()
    checks = [
        {"result": getattr(c.result, "value", str(c.result)), "name": c.name, "reason": c.reason} for c in run.checks
    ]
    with open(report, "w") as out:
        json.dump(checks, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
