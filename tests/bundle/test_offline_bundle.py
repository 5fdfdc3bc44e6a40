"""The offline bundle end to end, from this machine's real caches: exported (the wheels and the JVM
artifacts; the Debian packages are left out here, being a system install), imported into a cache of its
own, and then the stack's artifact resolution finds everything without Maven (a stand-in that fails
and records each call), and pip resolves every requirement from the bundle's wheels with no index."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_config import load_settings
from mesh_stack.bundle.manifest import JVM, WHEELS, Manifest, check
from mesh_stack.bundle.transfer import PROJECT_ROOT, export_bundle, import_bundle
from mesh_stack.bundle.wheels import REQUIREMENTS, offline_environment
from mesh_stack.components.connect import Connect
from mesh_stack.components.kafka import Kafka
from mesh_stack.components.registry import Registry
from mesh_stack.java import ARTIFACTS, JvmArtifact
from mesh_stack.jvm_component import JvmComponent

pytestmark = pytest.mark.bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Manifest]]:
    folder = tmp_path_factory.mktemp("usb") / "mesh-bundle"
    # Maven fills the real cache if it is cold (the stack would, on its first start).
    manifest = export_bundle(load_settings(), folder, [WHEELS, JVM])
    yield folder, manifest
    shutil.rmtree(folder)  # about 600 MB


@pytest.fixture
def no_maven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `mvn` first on PATH that fails and leaves a mark: any resolution through Maven is seen."""
    mark = tmp_path / "mvn-was-called"
    shim = tmp_path / "bin" / "mvn"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\ntouch "{mark}"\nexit 97\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    return mark


def _components(cache: Path, bundle: Path | None) -> list[JvmComponent]:
    settings = load_settings(cache_dir=cache, bundle=bundle, home=cache.parent / "state")
    return [Kafka(settings), Connect(settings), Registry(settings)]


def test_the_bundle_carries_every_artifact_and_is_whole(bundle: tuple[Path, Manifest]) -> None:
    folder, manifest = bundle
    assert manifest.parts() == [WHEELS, JVM]
    assert sorted(manifest.jvm) == sorted(ARTIFACTS)
    assert check(folder) == manifest
    assert (folder / "wheels" / REQUIREMENTS).is_file()


def test_an_imported_cache_starts_the_stack_without_maven(
    bundle: tuple[Path, Manifest], tmp_path: Path, no_maven: Path
) -> None:
    folder, _ = bundle
    cache = tmp_path / "fresh-cache"
    report = import_bundle(load_settings(cache_dir=cache), folder, [JVM])
    assert sorted(report.installed) == sorted(ARTIFACTS)
    for component in _components(cache, bundle=None):
        for name, directory in component.resolve().items():
            assert JvmArtifact(name).is_resolved(cache) and any(directory.iterdir())
    assert (cache / "jvm" / JvmArtifact("connect").directory(cache).name / "lib").is_dir()
    assert not no_maven.exists(), "the stack called Maven"


def test_mesh_bundle_in_the_settings_is_taken_before_maven(
    bundle: tuple[Path, Manifest], tmp_path: Path, no_maven: Path
) -> None:
    folder, _ = bundle
    cache = tmp_path / "never-imported"
    for component in _components(cache, bundle=folder):
        component.resolve()
    assert all(JvmArtifact(name).is_resolved(cache) for name in ARTIFACTS)
    assert not no_maven.exists(), "the stack called Maven"


def _pip_offline(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-index", *args]
    return subprocess.run(
        command, env=offline_environment(), capture_output=True, text=True, timeout=600, check=False, cwd=PROJECT_ROOT
    )


def test_the_wheels_alone_install_the_pinned_requirements(bundle: tuple[Path, Manifest]) -> None:
    folder, _ = bundle
    wheels = folder / "wheels"
    pinned = _pip_offline("--find-links", str(wheels), "--require-hashes", "-r", str(wheels / REQUIREMENTS))
    assert pinned.returncode == 0, pinned.stderr
    assert "Would install" in pinned.stdout and "duckdb-1.5.5" in pinned.stdout


def test_the_wheels_alone_resolve_the_project_and_its_build(bundle: tuple[Path, Manifest]) -> None:
    """pyproject.toml's own requirements, with the dev extra, and its build backend (setuptools, in an
    isolated build environment) from the bundle: what the editable install of `make setup` does."""
    folder, _ = bundle
    project = _pip_offline("--find-links", str(folder / "wheels"), f"{PROJECT_ROOT}[dev]")
    assert project.returncode == 0, project.stderr
    assert "streamline-mesh-0.1.0" in project.stdout and "playwright" in project.stdout
