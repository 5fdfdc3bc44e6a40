"""The bundle's Python wheels: every requirement of the project (with the `dev` extra that `make setup`
installs, the build backend of its editable install, and pip), for this interpreter and platform."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mesh_stack.bundle.manifest import BundleError, sha256_of

REQUIREMENTS = "requirements.txt"
# Not pinned to this environment's versions: the project itself, and the installers, which a virtualenv
# may hold older than the build backend's floor (Python 3.11's venv comes with setuptools 65).
_UNPINNED = {"streamline-mesh", "pip", "setuptools", "wheel"}


def project_requirements(pyproject: Path) -> list[str]:
    """What `make setup` installs: the dependencies, the `dev` extra, the build backend of the editable
    install (built in an isolated environment, so it must come from the bundle too) and pip itself."""
    project = tomllib.loads(pyproject.read_text())
    return [
        *project["project"]["dependencies"],
        *project["project"].get("optional-dependencies", {}).get("dev", []),
        *project["build-system"]["requires"],
        "pip",
    ]


def environment_constraints(distributions: list[tuple[str, str]]) -> list[str]:
    """Pins to the versions installed here (name, version pairs): the room gets what the trainer
    rehearsed with, not whatever is newest on the day of the export."""
    return sorted(f"{name}=={version}" for name, version in distributions if name.lower() not in _UNPINNED)


def installed() -> list[tuple[str, str]]:
    return [(d.metadata["Name"], d.version) for d in metadata.distributions() if d.metadata["Name"]]


def offline_environment() -> dict[str, str]:
    """This environment without pip's configuration: a `find-links` or index set by the user or the
    machine (PIP_FIND_LINKS, pip.conf) would let wheels from outside the bundle through."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return env | {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def pinned_requirements(report: dict[str, Any], wheels: Path) -> dict[str, str]:
    """From pip's installation report of a resolution against the wheel folder: each chosen wheel's
    file name, with its requirement line in pip's hash-checking mode (name==version --hash)."""
    chosen: dict[str, str] = {}
    for item in report["install"]:
        url = item["download_info"]["url"]
        if not url.startswith("file:"):
            raise BundleError(f"pip chose {url}, not a wheel of {wheels}")
        path = Path(unquote(urlparse(url).path))
        metadata = item["metadata"]
        line = f"{metadata['name']}=={metadata['version']} --hash=sha256:{sha256_of(path)}"
        chosen[path.name] = line
    return chosen


def export_wheels(pyproject: Path, wheels: Path, pin_to_environment: bool = True) -> list[Path]:
    """Download every wheel into `wheels` (those already there are kept: pip downloads only what is
    missing, and its cache serves what `make setup` fetched before), prove that the folder alone
    resolves every requirement, and write the pinned, hashed requirements. Returns the files. With
    `pin_to_environment`, each package is of the version this environment has installed."""
    wheels.mkdir(parents=True, exist_ok=True)
    requirements = project_requirements(pyproject)
    if pin_to_environment:
        constraints = wheels.parent / ".constraints.txt"
        constraints.write_text("".join(f"{line}\n" for line in environment_constraints(installed())))
        requirements = ["--constraint", str(constraints), *requirements]
    pip = [sys.executable, "-m", "pip"]
    # Wheels only: an sdist would need its build tools on the offline machine.
    download = [*pip, "download", "--only-binary=:all:", "--progress-bar=on", "--dest", str(wheels), *requirements]
    if subprocess.run(download, check=False).returncode != 0:
        how = " (or export with --newest: this environment's versions may not fit pyproject.toml)"
        raise BundleError("pip could not download every wheel (see its output above)" + how * pin_to_environment)
    report_path = wheels.parent / ".pip-report.json"
    resolve = [
        *pip,
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--no-index",
        "--find-links",
        str(wheels),
        "--only-binary=:all:",
        "--report",
        str(report_path),
        *requirements,
    ]
    result = subprocess.run(resolve, env=offline_environment(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BundleError(f"the downloaded wheels do not resolve the project's requirements offline:\n{result.stderr}")
    chosen = pinned_requirements(json.loads(report_path.read_text()), wheels)
    report_path.unlink()
    if pin_to_environment:
        constraints.unlink()
    for stale in wheels.glob("*.whl"):  # an earlier export's versions
        if stale.name not in chosen:
            stale.unlink()
    (wheels / REQUIREMENTS).write_text("".join(f"{line}\n" for line in sorted(chosen.values(), key=str.lower)))
    return [*sorted(wheels / name for name in chosen), wheels / REQUIREMENTS]


def install_commands(bundle: Path, venv: Path = Path(".venv")) -> list[str]:
    """How `make setup MESH_BUNDLE=...` installs from the bundle, for a user who does it by hand."""
    pip, wheels = venv / "bin" / "pip", bundle / "wheels"
    return [
        f"{pip} install --no-index --find-links {wheels} --require-hashes -r {wheels / REQUIREMENTS}",
        f"{pip} install --no-index --find-links {wheels} --no-deps -e .",
    ]
