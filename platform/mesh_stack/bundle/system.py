"""The bundle's system packages, on Debian and its kin: the Chromium that the portal's browser tests
drive, and the Java runtime the JVM servers need, each with its whole dependency closure, as a local
apt repository (`platform/scripts/apt-from-bundle.sh` installs from it, offline)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from mesh_stack.bundle.manifest import BundleError

# What the setup installs with apt-get when it is missing (ensure-prerequisites.sh, ensure-browser.sh).
PACKAGES = ("chromium", "openjdk-17-jre-headless")
INDEX = "Packages"
_APT_ARCHIVES = Path("/var/cache/apt/archives")
_URI = re.compile(r"^'(?P<url>[^']+)' (?P<file>\S+) (?P<size>\d+)(?: (?P<algorithm>\w+):(?P<digest>[0-9a-f]+))?$")
# apt names a digest of the file as the archive's index gives it; some indexes (debian-security's) give none.
_ALGORITHMS = {"MD5Sum": "md5", "SHA1": "sha1", "SHA256": "sha256", "SHA512": "sha512"}


@dataclass(frozen=True)
class DebianPackage:
    name: str
    version: str
    file: str
    size: int
    algorithm: str  # hashlib's name
    digest: str  # empty when apt gave none

    def matches(self, path: Path) -> bool:
        """Whether `path` is this package's file: a file without a known digest never matches, so it
        is fetched by apt-get, which checks it against the archive's index itself."""
        if not self.digest or not path.is_file() or path.stat().st_size != self.size:
            return False
        with open(path, "rb") as f:
            return hashlib.file_digest(f, self.algorithm).hexdigest() == self.digest


def parse_print_uris(output: str) -> list[DebianPackage]:
    """The packages of `apt-get install --print-uris` (one quoted URL, file name, size and digest a line)."""
    packages = []
    for line in output.splitlines():
        match = _URI.match(line.strip())
        if match is None:
            continue
        name, version, _arch = match["file"].removesuffix(".deb").split("_")
        algorithm = match["algorithm"] or ""
        digest = match["digest"] or ""
        packages.append(
            DebianPackage(
                name, unquote(version), match["file"], int(match["size"]), _ALGORITHMS.get(algorithm, algorithm), digest
            )
        )
    return packages


def available() -> bool:
    return shutil.which("apt-get") is not None and shutil.which("dpkg-scanpackages") is not None


def closure(packages: tuple[str, ...]) -> list[DebianPackage]:
    """Every package that installing `packages` on a machine with nothing installed would fetch: apt
    resolves against an empty dpkg status, so the bundle holds all a bare system of this release could
    lack (on a fuller one apt takes only the missing ones from it)."""
    with tempfile.TemporaryDirectory() as scratch:
        status = Path(scratch) / "status"
        status.touch()
        (Path(scratch) / "archives" / "partial").mkdir(parents=True)
        result = subprocess.run(
            [
                "apt-get",
                "-q",
                "-o",
                f"Dir::State::status={status}",
                "-o",
                f"Dir::Cache::archives={scratch}/archives",
                "-o",
                "Debug::NoLocking=1",
                "install",
                "--no-install-recommends",
                "--print-uris",
                "-y",
                *packages,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise BundleError(f"apt-get cannot resolve {' '.join(packages)}: {result.stderr.strip()[-500:]}")
    resolved = parse_print_uris(result.stdout)
    if not resolved:
        raise BundleError(f"apt-get resolved no package to fetch for {' '.join(packages)}:\n{result.stdout[-1000:]}")
    return resolved


def export_system(repository: Path, packages: tuple[str, ...] = PACKAGES) -> list[Path]:
    """Fetch the closure into `repository` (what it already holds, or apt's own cache holds, is not
    fetched again) and index it as a flat apt repository. Returns the files."""
    repository.mkdir(parents=True, exist_ok=True)
    wanted = closure(packages)
    missing = []
    for package in wanted:
        target = repository / package.file
        cached = _APT_ARCHIVES / package.file
        if package.matches(target):
            continue
        if package.matches(cached):
            shutil.copyfile(cached, target)
            continue
        missing.append(package)
    if missing:
        print(f"fetching {len(missing)} of {len(wanted)} Debian packages with apt-get download", flush=True)
        fetch = ["apt-get", "download", "-q"]
        if os.geteuid() == 0:  # as root apt downloads as its own user, who may not write to the bundle's folder
            fetch += ["-o", "APT::Sandbox::User=root"]
        fetch += [f"{p.name}={p.version}" for p in missing]
        if subprocess.run(fetch, cwd=repository, check=False).returncode != 0:
            raise BundleError("apt-get could not download every package (see its output above)")
    for package in wanted:
        fetched = repository / package.file
        if not fetched.is_file() or fetched.stat().st_size != package.size:
            raise BundleError(f"{package.file}: apt-get did not fetch it whole")
        if package.digest and not package.matches(fetched):
            raise BundleError(f"{package.file}: apt-get fetched a file whose {package.algorithm} is not the archive's")
    keep = {p.file for p in wanted}
    for stale in repository.glob("*.deb"):
        if stale.name not in keep:
            stale.unlink()
    index = subprocess.run(
        ["dpkg-scanpackages", "--multiversion", "."], cwd=repository, capture_output=True, text=True, check=False
    )
    if index.returncode != 0:
        raise BundleError(f"dpkg-scanpackages could not index {repository}: {index.stderr.strip()[-500:]}")
    (repository / INDEX).write_text(index.stdout)
    return [*sorted(repository / p.file for p in wanted), repository / INDEX]
