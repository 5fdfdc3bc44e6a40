"""An offline bundle's manifest (bundle.json): what it carries, for which platform, and each file's
size and SHA-256; and the checks a bundle must pass before anything is taken from it.

Standard library only, and runnable as a script (`python3 manifest.py verify DIR`): `make setup
MESH_BUNDLE=DIR` checks a bundle with the system Python before a virtualenv exists to install into.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

MANIFEST = "bundle.json"
FORMAT = 1
# The parts a bundle can carry, each under a folder of that name.
WHEELS, JVM, SYSTEM = "wheels", "jvm", "system"
PARTS = (WHEELS, JVM, SYSTEM)
_CHUNK = 1 << 20


class BundleError(RuntimeError):
    """A bundle that cannot be used: the message names the file or the mismatch, and what to do."""


@dataclass(frozen=True)
class Platform:
    """What a bundle's wheels and system packages were chosen for."""

    os: str  # platform.system(), lower case: linux, darwin
    arch: str  # platform.machine(): x86_64, aarch64, arm64
    python: str  # major.minor: wheels with compiled code are built for one
    libc: str = ""  # "glibc 2.36": manylinux wheels need at least the glibc they were chosen on
    distro: str = ""  # "debian 12" (os-release ID and VERSION_ID): where the system packages come from

    def describe(self) -> str:
        extras = ", ".join(x for x in (self.libc, self.distro) if x)
        return f"{self.os} {self.arch}, Python {self.python}" + (f" ({extras})" if extras else "")


def current_platform() -> Platform:
    libc_name, libc_version = platform.libc_ver()
    try:
        release = platform.freedesktop_os_release()
        distro = f"{release.get('ID', '')} {release.get('VERSION_ID', '')}".strip()
    except OSError:  # no os-release: macOS
        distro = ""
    return Platform(
        os=platform.system().lower(),
        arch=platform.machine(),
        python=f"{sys.version_info.major}.{sys.version_info.minor}",
        libc=f"{libc_name} {libc_version}" if libc_name else "",
        distro=distro,
    )


@dataclass(frozen=True)
class BundledFile:
    path: str  # relative to the bundle, with forward slashes
    size: int
    sha256: str

    @property
    def part(self) -> str:
        return PurePosixPath(self.path).parts[0]


@dataclass(frozen=True)
class Manifest:
    mesh_version: str
    created: str  # ISO 8601, UTC
    platform: Platform
    # The parts carried (absent ones are not in the bundle):
    wheels: str | None = None  # the pinned, hashed requirements file (pip's hash-checking mode)
    jvm: dict[str, str] = field(default_factory=dict)  # artifact name -> its archive (named by its cache key)
    system: tuple[str, ...] = ()  # Debian packages whose whole dependency closure is in system/
    files: tuple[BundledFile, ...] = ()
    format: int = FORMAT

    def parts(self) -> list[str]:
        carried = {WHEELS: self.wheels is not None, JVM: bool(self.jvm), SYSTEM: bool(self.system)}
        return [part for part in PARTS if carried[part]]

    def size(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            raw = json.loads(text)
            if raw.get("format") != FORMAT:
                raise BundleError(
                    f"{MANIFEST} is of format {raw.get('format')!r}; this mesh reads format {FORMAT}: "
                    "export the bundle again with this checkout's `mesh bundle export`"
                )
            return cls(
                mesh_version=str(raw["mesh_version"]),
                created=str(raw["created"]),
                platform=Platform(**raw["platform"]),
                wheels=raw.get("wheels"),
                jvm={str(k): str(v) for k, v in raw.get("jvm", {}).items()},
                system=tuple(raw.get("system", ())),
                files=tuple(BundledFile(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in raw["files"]),
            )
        except BundleError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BundleError(f"{MANIFEST} is damaged ({type(exc).__name__}: {exc}): copy the bundle again") from exc


def read_manifest(bundle: Path) -> Manifest:
    if not bundle.is_dir():
        raise BundleError(f"no bundle at {bundle}: no such directory (make one with `mesh bundle export DIR`)")
    path = bundle / MANIFEST
    if not path.is_file():
        raise BundleError(
            f"{bundle} is not a mesh bundle: it has no {MANIFEST} (an export that did not finish writes none; "
            "export again with `mesh bundle export DIR`)"
        )
    return Manifest.from_json(path.read_text())


def sha256_of(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return digest.hexdigest()


def describe_file(bundle: Path, path: Path, on_bytes: Callable[[int], None] | None = None) -> BundledFile:
    return BundledFile(path.relative_to(bundle).as_posix(), path.stat().st_size, sha256_of(path, on_bytes))


def file_problem(bundle: Path, entry: BundledFile, on_bytes: Callable[[int], None] | None = None) -> str | None:
    """What is wrong with one file of the bundle, or None."""
    path = bundle / entry.path
    if not path.is_file():
        return f"{entry.path}: missing (a partial copy?)"
    size = path.stat().st_size
    if size != entry.size:
        if on_bytes is not None:
            on_bytes(entry.size)
        return f"{entry.path}: {size} bytes, the manifest says {entry.size} (truncated or changed)"
    if sha256_of(path, on_bytes) != entry.sha256:
        return f"{entry.path}: corrupt (its SHA-256 is not the manifest's)"
    return None


def verify_files(
    bundle: Path, files: Iterable[BundledFile], on_bytes: Callable[[int], None] | None = None
) -> list[str]:
    """Every problem of these files: missing, of another size, or of another digest."""
    return [problem for entry in files if (problem := file_problem(bundle, entry, on_bytes)) is not None]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def platform_mismatches(made_for: Platform, here: Platform, parts: Iterable[str]) -> list[str]:
    """Why the given parts of a bundle made for `made_for` cannot be used `here`. The JVM archives
    run anywhere; wheels need the same OS, architecture and Python, and no older glibc; Debian
    packages the same distribution release."""
    parts = set(parts)
    problems: list[str] = []
    if parts & {WHEELS, SYSTEM}:
        if made_for.os != here.os:
            problems.append(f"it was made for {made_for.os}; this machine runs {here.os}")
        if made_for.arch != here.arch:
            problems.append(f"it was made for {made_for.arch} processors; this machine is {here.arch}")
    if WHEELS in parts:
        if made_for.python != here.python:
            problems.append(f"its wheels are for Python {made_for.python}; this Python is {here.python}")
        name, _, version = made_for.libc.partition(" ")
        here_name, _, here_version = here.libc.partition(" ")
        if name and name == here_name and _version(here_version) < _version(version):
            problems.append(f"its wheels need {made_for.libc} or newer; this machine has {here.libc}")
    if SYSTEM in parts and made_for.distro != here.distro:
        problems.append(
            f"its system packages are {made_for.distro or 'none'}'s; this machine runs {here.distro or 'another OS'}"
        )
    return problems


def check(bundle: Path, parts: Iterable[str] | None = None, on_bytes: Callable[[int], None] | None = None) -> Manifest:
    """The bundle's manifest, once the chosen parts (default: all it carries) fit this machine and every
    file of them is whole. Raises BundleError naming each mismatch and each damaged file."""
    manifest = read_manifest(bundle)
    chosen = manifest.parts() if parts is None else [p for p in parts if p in manifest.parts()]
    mismatches = platform_mismatches(manifest.platform, current_platform(), chosen)
    if mismatches:
        raise BundleError(
            f"the bundle at {bundle} is for {manifest.platform.describe()}, not this machine "
            f"({current_platform().describe()}): " + "; ".join(mismatches) + ". Export one on a machine like this."
        )
    problems = verify_files(bundle, (f for f in manifest.files if f.part in chosen), on_bytes)
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise BundleError(f"the bundle at {bundle} is damaged; copy it again:\n  {shown}")
    return manifest


def bundled_jvm_archive(bundle: Path, artifact: str, key: str) -> Path | None:
    """The bundle's archive of a JVM artifact resolved into the cache directory `key`, checked whole;
    None when the bundle carries another version of it (its pom changed since) or none."""
    manifest = read_manifest(bundle)
    path = manifest.jvm.get(artifact)
    if path is None or PurePosixPath(path).name != f"{key}.tar":
        return None
    entry = next((f for f in manifest.files if f.path == path), None)
    if entry is None:
        raise BundleError(f"{bundle / MANIFEST} names {path} but gives no checksum for it: export the bundle again")
    problem = file_problem(bundle, entry)
    if problem is not None:
        raise BundleError(f"the bundle at {bundle} is damaged: {problem}; copy it again")
    return bundle / path


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="manifest.py", description="Check an offline mesh bundle.")
    parser.add_argument("command", choices=["verify"])
    parser.add_argument("bundle", type=Path)
    args = parser.parse_args(argv)
    try:
        manifest = check(args.bundle)
    except BundleError as exc:
        print(f"mesh bundle: {exc}", file=sys.stderr)
        return 1
    print(
        f"mesh bundle {args.bundle}: whole ({len(manifest.files)} files, {manifest.size() / 2**20:.0f} MB: "
        f"{', '.join(manifest.parts())}) for {manifest.platform.describe()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
