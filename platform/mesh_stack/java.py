"""Finding a Java 17+ runtime and the JVM artifacts the servers run on."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mesh_stack.bundle.manifest import BundleError, bundled_jvm_archive
from mesh_stack.errors import MissingDependency, StackError

MIN_JAVA = 17
# Every pinned set of jars the stack runs (a pom of mesh_stack/jvm each).
ARTIFACTS = ("kafka", "connect", "debezium-postgres", "avro-converter", "apicurio")
_HOW_TO_GET_JAVA = (
    f"Install a Java {MIN_JAVA}+ runtime (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`; "
    "macOS: `brew install openjdk@17`) or point MESH_JAVA_HOME or JAVA_HOME at one."
)
_HOW_TO_GET_MAVEN = (
    "Maven resolves the pinned Kafka, Debezium and Apicurio artifacts. Install it "
    "(Debian/Ubuntu: `apt-get install maven`; macOS: `brew install maven`) or put `mvn` on PATH."
)


def find_java(java_home: Path | None = None) -> Path:
    """The `java` binary to use, checked to be version 17 or newer."""
    candidates: list[Path] = []
    for home in (java_home, os.environ.get("JAVA_HOME")):
        if home:
            candidates.append(Path(home) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path))
    for java in candidates:
        if java.is_file() and os.access(java, os.X_OK):
            version = java_major_version(java)
            if version >= MIN_JAVA:
                return java
            raise MissingDependency(f"Java {MIN_JAVA}+ (found Java {version} at {java})", _HOW_TO_GET_JAVA)
    raise MissingDependency(f"Java {MIN_JAVA}+", _HOW_TO_GET_JAVA)


def java_major_version(java: Path) -> int:
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise StackError(f"cannot read the version of {java}: {out.strip()[:200]}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


@dataclass(frozen=True)
class JvmArtifact:
    """A pinned set of jars described by a pom shipped with this package."""

    name: str  # kafka, connect, debezium-postgres, apicurio

    def pom(self) -> Path:
        return Path(str(resources.files("mesh_stack.jvm").joinpath(f"{self.name}.pom.xml")))

    def directory(self, cache_dir: Path) -> Path:
        # Keyed by the pom's content: changing a pinned version resolves a new directory.
        digest = hashlib.sha256(self.pom().read_bytes()).hexdigest()[:12]
        return cache_dir / "jvm" / f"{self.name}-{digest}"

    def is_resolved(self, cache_dir: Path) -> bool:
        return (self.directory(cache_dir) / ".resolved").exists()

    def resolve(self, cache_dir: Path, log: Path, bundle: Path | None = None) -> Path:
        """Resolve into the cache once; later calls download nothing. An offline bundle that carries
        this version is taken before the network (Maven)."""
        target = self.directory(cache_dir)
        if self.is_resolved(cache_dir):
            return target
        if bundle is not None:
            try:
                archive = bundled_jvm_archive(bundle, self.name, target.name)
            except BundleError as exc:
                raise StackError(f"MESH_BUNDLE: {exc}") from exc
            if archive is not None:
                return self.install(archive, cache_dir)
        mvn = shutil.which("mvn")
        if mvn is None:
            raise MissingDependency("Maven (`mvn`)", _HOW_TO_GET_MAVEN)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            result = subprocess.run(
                [
                    mvn,
                    "-B",
                    "-q",
                    "-Dstyle.color=never",
                    "-f",
                    str(self.pom()),
                    "validate",
                    f"-Dmesh.out={partial}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=1800,
            )
        if result.returncode != 0:
            raise StackError(f"Maven could not resolve the {self.name} artifacts; see {log}")
        _unpack_distributions(partial)
        return _publish(partial, target)

    def pack(self, cache_dir: Path, archive: Path) -> None:
        """The resolved directory as one archive: a USB stick's file system (FAT, exFAT) keeps neither
        the many small files' permissions nor symbolic links, a tar keeps both."""
        partial = archive.with_name(archive.name + ".partial")
        with tarfile.open(partial, "w") as tar:
            for path in sorted(self.directory(cache_dir).iterdir()):
                if path.name != ".resolved":
                    tar.add(path, arcname=path.name)
        partial.rename(archive)

    def install(self, archive: Path, cache_dir: Path) -> Path:
        """Unpack an archive made by `pack` into the cache, where `resolve` finds it."""
        target = self.directory(cache_dir)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(archive) as tar:
            tar.extractall(partial, filter="data")
        return _publish(partial, target)


def _publish(partial: Path, target: Path) -> Path:
    """Put a complete directory in place; the marker comes last, so an interrupted run leaves none."""
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    (target / ".resolved").touch()
    return target


def _unpack_distributions(directory: Path) -> None:
    """Unpack every archive Maven copied into `dist/` to `app/`, then drop the archive."""
    for archive in sorted((directory / "dist").glob("*.tar.gz")):
        with tarfile.open(archive) as tar:
            tar.extractall(directory / "app", filter="data")
        archive.unlink()
