"""datacontract-cli, the Open Data Contract Standard's reference tool, in a virtualenv of its own in the
download cache, for the tests that lint every contract of the repository (`datacontract lint`) and that
check a product's contract through its SQL port (`datacontract test` with a postgres server entry: its
`postgres` extra, Soda Core over psycopg2).

It is not a dev dependency because it cannot share the project's virtualenv: no release of it installs
beside the typer the mesh resolves (0.29.2; 1.2.8 asks for typer<0.28), and it caps pydantic, sqlglot,
rich and requests below their next releases, so beside the mesh it would hold the mesh's own
dependencies back. Its own virtualenv, from exact pins, leaves both as they are. It is installed the
first time the test needs it (as Toxiproxy is for the network faults) rather than by `make setup`:
learners run setup and have no use for it, and a checkout set up earlier gets it all the same."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh_stack.errors import MissingDependency

VERSION = "1.2.8"
# What pip resolved for datacontract-cli 1.2.8 on Python 3.11: a later release of one of them cannot
# change what the validator says.
_CONSTRAINTS = """\
annotated-doc==0.0.7
annotated-types==0.8.0
attrs==26.1.0
boto3==1.44.8
botocore==1.44.8
cachebox==5.2.3
certifi==2026.10.19.post1
charset-normalizer==3.5.3
click==8.5.1
datacontract-specification==1.2.3
deepdiff==9.1.0
fastjsonschema==2.22.3
idna==3.20
Jinja2==3.1.6
jinja_partials==0.3.2
jmespath==1.1.0
jsonschema-specifications==2025.9.1
jsonschema==4.26.0
markdown-it-py==4.3.0
MarkupSafe==3.0.4
mdurl==0.1.2
open-data-contract-standard==3.2.0
orderly-set==5.5.0
pydantic-settings==2.16.3
pydantic==2.14.4
pydantic_core==2.50.5
Pygments==2.21.0
python-dateutil==2.9.0.post0
python-dotenv==1.2.4
python-multipart==0.0.34
pytz==2026.6
PyYAML==6.0.4
referencing==0.37.0
requests==2.34.2
rich==15.0.0
rpds-py==2026.9.1
ruamel.yaml==0.19.1
s3transfer==0.19.3
shellingham==1.5.4
six==1.17.0
sqlglot==30.31.0
truststore==0.10.5
typer==0.27.3
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0
"""
_RUNNER = Path(__file__).with_name("_datacontract_runner.py")
_HOW_TO_GET_IT = (
    f"It is installed from PyPI (datacontract-cli=={VERSION}) into a virtualenv of its own in the download "
    "cache the first time it is needed; this machine could not install it (no network?)."
)


@dataclass(frozen=True)
class Finding:
    """One check `datacontract lint` reported on a contract."""

    result: str  # passed, warning, failed or error
    name: str
    reason: str | None

    @property
    def passed(self) -> bool:
        return self.result == "passed"


def home(cache_dir: Path) -> Path:
    return cache_dir / "datacontract-cli" / f"{VERSION}-postgres"


def install(cache_dir: Path, log: Path) -> Path:
    """The interpreter of the pinned datacontract-cli's virtualenv, created once; later calls install
    nothing."""
    target = home(cache_dir)
    python, done = target / "bin" / "python", target / ".installed"
    if done.exists():
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    # A virtualenv cannot be built aside and moved into place (its scripts name their own path), so
    # concurrent first uses take turns and a half-built one is started again.
    with open(target.parent / f"{VERSION}.lock", "w") as lock, open(log, "ab") as out:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return python
        shutil.rmtree(target, ignore_errors=True)
        constraints = target.parent / f"{VERSION}.constraints.txt"
        constraints.write_text(_CONSTRAINTS)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
        steps = [
            [sys.executable, "-m", "venv", str(target)],
            [*pip, "-c", str(constraints), f"datacontract-cli[postgres]=={VERSION}"],
        ]
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=900).returncode != 0:
                raise MissingDependency(f"datacontract-cli {VERSION}", f"{_HOW_TO_GET_IT} See {log}.")
        done.touch()
    return python


def lint(python: Path, contracts: list[Path], report: Path) -> dict[Path, list[Finding]]:
    """What `datacontract lint` reports on each contract, from one run of the validator's interpreter
    (a process per contract would spend seconds importing it each time)."""
    found = _run(python, report, ["lint", *map(str, contracts)])
    return {Path(path): [Finding(**check) for check in checks] for path, checks in found.items()}


def test(python: Path, contract: Path, server: str, report: Path, env: dict[str, str]) -> list[Finding]:
    """What `datacontract test` reports on a contract against one of its servers (credentials in `env`,
    as DATACONTRACT_POSTGRES_USERNAME and _PASSWORD)."""
    return [Finding(**check) for check in _run(python, report, ["test", str(contract), server], env)]


def _run(python: Path, report: Path, args: list[str], env: dict[str, str] | None = None) -> Any:
    """The JSON report of one run of _datacontract_runner.py in datacontract-cli's interpreter."""
    result = subprocess.run(
        [str(python), str(_RUNNER), str(report), *args], capture_output=True, text=True, timeout=600, env=env
    )
    if result.returncode != 0:
        raise RuntimeError(f"datacontract-cli failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return json.loads(report.read_text())
