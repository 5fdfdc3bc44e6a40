"""`mesh bundle export` and `mesh bundle import`: the bundle written from this machine's caches (fetching
only what they lack), and taken back into another machine's caches after every file is checked."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Protocol

from mesh_config import MeshSettings
from mesh_stack.bundle import system
from mesh_stack.bundle.manifest import (
    JVM,
    MANIFEST,
    PARTS,
    SYSTEM,
    WHEELS,
    BundleError,
    Manifest,
    check,
    current_platform,
    describe_file,
    read_manifest,
)
from mesh_stack.bundle.wheels import REQUIREMENTS, export_wheels, install_commands
from mesh_stack.java import ARTIFACTS, JvmArtifact

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = PROJECT_ROOT / "platform" / "scripts"


class Progress(Protocol):
    def say(self, line: str) -> None: ...

    def bytes(self, what: str, total: int) -> AbstractContextManager[Callable[[int], None]]: ...


class Quiet:
    """Progress that shows nothing (tests, scripts)."""

    def say(self, line: str) -> None:
        return None

    @contextmanager
    def bytes(self, what: str, total: int) -> Iterator[Callable[[int], None]]:
        yield lambda _n: None


def _chosen(parts: Sequence[str] | None) -> list[str]:
    unknown = sorted(set(parts or ()) - set(PARTS))
    if unknown:
        raise BundleError(f"no such part: {', '.join(unknown)} (the parts: {', '.join(PARTS)})")
    return list(PARTS) if parts is None else [p for p in PARTS if p in parts]


def _version() -> str:
    try:
        return metadata.version("streamline-mesh")
    except metadata.PackageNotFoundError:
        return "unknown"


def _export_jvm(settings: MeshSettings, folder: Path, progress: Progress) -> tuple[dict[str, str], list[Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    cache, log = settings.cache_dir, settings.home / "logs" / "maven.log"
    archives: dict[str, str] = {}
    for name in ARTIFACTS:
        artifact = JvmArtifact(name)
        if not artifact.is_resolved(cache):
            progress.say(f"jvm: {name} is not in {cache} yet: Maven resolves it (log: {log})")
            artifact.resolve(cache, log, settings.bundle)
        archive = folder / f"{artifact.directory(cache).name}.tar"
        progress.say(f"jvm: {name} from {artifact.directory(cache)}")
        artifact.pack(cache, archive)
        archives[name] = archive.relative_to(folder.parent).as_posix()
    for stale in folder.glob("*.tar"):  # another version's, from an earlier export
        if stale.relative_to(folder.parent).as_posix() not in archives.values():
            stale.unlink()
    return archives, [folder.parent / path for path in archives.values()]


def export_bundle(
    settings: MeshSettings,
    dest: Path,
    parts: Sequence[str] | None = None,
    progress: Progress | None = None,
    newest: bool = False,
) -> Manifest:
    """Write the bundle into `dest` and its manifest last: a `dest` without bundle.json is unfinished.
    The wheels are of the versions installed here (see `export_wheels`), or with `newest` the newest
    that pyproject.toml allows."""
    progress = progress or Quiet()
    chosen = _chosen(parts)
    if dest.exists() and not dest.is_dir():
        raise BundleError(f"{dest} is a file, not a folder for the bundle")
    if SYSTEM in chosen and not system.available():
        if parts is not None:
            raise BundleError("system packages need apt-get and dpkg-scanpackages (Debian: apt-get install dpkg-dev)")
        progress.say("system: no apt-get and dpkg-scanpackages here; the bundle carries no Java runtime or Chromium")
        chosen.remove(SYSTEM)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / MANIFEST).unlink(missing_ok=True)
    files: list[Path] = []
    jvm: dict[str, str] = {}
    if WHEELS in chosen:
        pinned = "the newest versions allowed" if newest else "the versions installed in this environment"
        progress.say(f"wheels ({pinned}): pip downloads what the folder and its cache lack")
        files += export_wheels(PROJECT_ROOT / "pyproject.toml", dest / WHEELS, pin_to_environment=not newest)
    if JVM in chosen:
        jvm, archives = _export_jvm(settings, dest / JVM, progress)
        files += archives
    if SYSTEM in chosen:
        progress.say(f"system: {', '.join(system.PACKAGES)} and every package they depend on")
        files += system.export_system(dest / SYSTEM)
    with progress.bytes("checksums", sum(f.stat().st_size for f in files)) as advance:
        entries = tuple(describe_file(dest, f, advance) for f in files)
    manifest = Manifest(
        mesh_version=_version(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        platform=current_platform(),
        wheels=f"{WHEELS}/{REQUIREMENTS}" if WHEELS in chosen else None,
        jvm=jvm,
        system=system.PACKAGES if SYSTEM in chosen else (),
        files=entries,
    )
    partial = dest / f"{MANIFEST}.partial"
    partial.write_text(manifest.to_json())
    partial.rename(dest / MANIFEST)
    return manifest


@dataclass
class ImportReport:
    manifest: Manifest
    installed: list[str] = field(default_factory=list)  # JVM artifacts unpacked into the cache
    already: list[str] = field(default_factory=list)  # JVM artifacts the cache held
    other_version: list[str] = field(default_factory=list)  # carried for another checkout's poms
    notes: list[str] = field(default_factory=list)


def import_bundle(
    settings: MeshSettings,
    source: Path,
    parts: Sequence[str] | None = None,
    progress: Progress | None = None,
    system_packages: bool = True,
) -> ImportReport:
    """Check the bundle (platform, every file), then unpack its JVM artifacts into the cache where the
    stack looks, and install its missing system packages (as root); the wheels are installed by
    `make setup MESH_BUNDLE=...` into the virtualenv, which this command runs from."""
    progress = progress or Quiet()
    chosen = _chosen(parts)
    carried = read_manifest(source)
    total = sum(f.size for f in carried.files if f.part in chosen)
    with progress.bytes("checking", total) as advance:
        manifest = check(source, chosen, advance)
    report = ImportReport(manifest)
    if JVM in chosen:
        for name, path in manifest.jvm.items():
            artifact = JvmArtifact(name)
            if Path(path).name != f"{artifact.directory(settings.cache_dir).name}.tar":
                report.other_version.append(name)
            elif artifact.is_resolved(settings.cache_dir):
                report.already.append(name)
            else:
                progress.say(f"jvm: {name} into {artifact.directory(settings.cache_dir)}")
                artifact.install(source / path, settings.cache_dir)
                report.installed.append(name)
        if report.other_version:
            report.notes.append(
                f"the bundle carries other versions of {', '.join(report.other_version)} than this checkout pins "
                "(it was exported from another version of the mesh): the first start resolves them with Maven"
            )
    if SYSTEM in chosen and manifest.system and system_packages:
        # The setup scripts decide what is missing and install it from the bundle (as root) or say how.
        env = dict(os.environ) | {"MESH_BUNDLE": str(source.resolve())}
        for script in ("ensure-prerequisites.sh", "ensure-browser.sh"):
            if subprocess.run([str(SCRIPTS / script)], env=env, check=False).returncode != 0:
                report.notes.append(f"{script} could not install what is missing from the bundle (see above)")
    if WHEELS in chosen and manifest.wheels is not None:
        report.notes.append(
            f"the wheels: `make setup MESH_BUNDLE={source}` installs them offline into .venv; by hand: "
            + " && ".join(install_commands(source))
        )
    return report
