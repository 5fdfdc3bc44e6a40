"""The offline bundle's manifest and the checks before anything is taken from a bundle: every file whole,
the platform the same; and the stack taking its JVM artifacts from a bundle before the network."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mesh_cli.main import app
from mesh_config import load_settings
from mesh_stack.bundle import manifest as bundle_manifest
from mesh_stack.bundle.manifest import (
    JVM,
    MANIFEST,
    SYSTEM,
    WHEELS,
    BundleError,
    Manifest,
    Platform,
    bundled_jvm_archive,
    check,
    current_platform,
    describe_file,
    platform_mismatches,
    read_manifest,
    verify_files,
)
from mesh_stack.bundle.system import DebianPackage, parse_print_uris
from mesh_stack.bundle.wheels import environment_constraints, pinned_requirements, project_requirements
from mesh_stack.errors import MissingDependency, StackError
from mesh_stack.java import JvmArtifact

LINUX = Platform("linux", "x86_64", "3.11", "glibc 2.36", "debian 12")


def _bundle(root: Path, files: dict[str, bytes], made_for: Platform | None = None, **parts: object) -> Manifest:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    manifest = Manifest(
        mesh_version="0.1.0",
        created="2025-01-01T00:00:00+00:00",
        platform=made_for or current_platform(),
        files=tuple(describe_file(root, root / name) for name in files),
        **parts,  # type: ignore[arg-type]
    )
    (root / MANIFEST).write_text(manifest.to_json())
    return manifest


def test_the_manifest_reads_back_as_written(tmp_path: Path) -> None:
    written = _bundle(
        tmp_path, {"wheels/a-1.0-py3-none-any.whl": b"a", "jvm/kafka-0123.tar": b"k"}, LINUX,
        wheels="wheels/requirements.txt", jvm={"kafka": "jvm/kafka-0123.tar"}, system=("chromium",),
    )  # fmt: skip
    assert read_manifest(tmp_path) == written
    assert written.parts() == [WHEELS, JVM, SYSTEM]
    assert written.size() == 2


def test_a_damaged_manifest_says_so(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text('{"format": 1, "mesh_version": "0.1.0"')
    with pytest.raises(BundleError, match=r"bundle\.json is damaged"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"format": 1, "mesh_version": "0.1.0", "created": "x"}))
    with pytest.raises(BundleError, match=r"bundle\.json is damaged"):
        read_manifest(tmp_path)


def test_a_manifest_of_another_format_is_refused(tmp_path: Path) -> None:
    _bundle(tmp_path, {})
    raw = json.loads((tmp_path / MANIFEST).read_text()) | {"format": 2}
    (tmp_path / MANIFEST).write_text(json.dumps(raw))
    with pytest.raises(BundleError, match="format 2"):
        read_manifest(tmp_path)


def test_a_missing_folder_and_a_folder_without_manifest_are_told_apart(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no such directory"):
        read_manifest(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    with pytest.raises(BundleError, match=r"not a mesh bundle: it has no bundle\.json"):
        read_manifest(tmp_path / "half")


def test_every_damaged_file_is_named(tmp_path: Path) -> None:
    files = {"wheels/ok.whl": b"fine", "wheels/gone.whl": b"x", "jvm/short.tar": b"0123456789", "jvm/bad.tar": b"abc"}
    manifest = _bundle(tmp_path, files, wheels="wheels/requirements.txt", jvm={"kafka": "jvm/k.tar"})
    assert verify_files(tmp_path, manifest.files) == []
    (tmp_path / "wheels/gone.whl").unlink()
    (tmp_path / "jvm/short.tar").write_bytes(b"01234")
    (tmp_path / "jvm/bad.tar").write_bytes(b"abd")  # same size, another digest
    problems = verify_files(tmp_path, manifest.files)
    assert problems == [
        "wheels/gone.whl: missing (a partial copy?)",
        "jvm/short.tar: 5 bytes, the manifest says 10 (truncated or changed)",
        "jvm/bad.tar: corrupt (its SHA-256 is not the manifest's)",
    ]
    with pytest.raises(BundleError, match="damaged; copy it again") as raised:
        check(tmp_path)
    assert "wheels/gone.whl" in str(raised.value) and "jvm/bad.tar" in str(raised.value)


def test_only_the_chosen_parts_are_checked(tmp_path: Path) -> None:
    _bundle(tmp_path, {"wheels/a.whl": b"a", "jvm/k.tar": b"k"}, wheels="wheels/requirements.txt", jvm={"kafka": "x"})
    (tmp_path / "wheels/a.whl").write_bytes(b"b")
    check(tmp_path, [JVM])
    with pytest.raises(BundleError, match=r"wheels/a\.whl: corrupt"):
        check(tmp_path, [JVM, WHEELS])


def test_wheels_need_the_same_os_architecture_and_python() -> None:
    assert platform_mismatches(LINUX, LINUX, [WHEELS, JVM, SYSTEM]) == []
    other_python = dataclasses.replace(LINUX, python="3.12")
    assert platform_mismatches(LINUX, other_python, [WHEELS]) == ["its wheels are for Python 3.11; this Python is 3.12"]
    mac = Platform("darwin", "arm64", "3.11")
    assert platform_mismatches(LINUX, mac, [WHEELS]) == [
        "it was made for linux; this machine runs darwin",
        "it was made for x86_64 processors; this machine is arm64",
    ]


def test_wheels_need_no_older_glibc_than_they_were_chosen_on() -> None:
    older = dataclasses.replace(LINUX, libc="glibc 2.31")
    newer = dataclasses.replace(LINUX, libc="glibc 2.39")
    assert platform_mismatches(LINUX, older, [WHEELS]) == [
        "its wheels need glibc 2.36 or newer; this machine has glibc 2.31"
    ]
    assert platform_mismatches(LINUX, newer, [WHEELS]) == []


def test_system_packages_need_the_same_distribution_and_jars_run_anywhere() -> None:
    ubuntu = dataclasses.replace(LINUX, distro="ubuntu 24.04")
    assert platform_mismatches(LINUX, ubuntu, [WHEELS]) == []
    assert platform_mismatches(LINUX, ubuntu, [SYSTEM]) == [
        "its system packages are debian 12's; this machine runs ubuntu 24.04"
    ]
    assert platform_mismatches(LINUX, Platform("darwin", "arm64", "3.13"), [JVM]) == []


def test_a_bundle_for_another_platform_says_for_which(tmp_path: Path) -> None:
    elsewhere = dataclasses.replace(current_platform(), python="2.7")
    _bundle(tmp_path, {"wheels/a.whl": b"a"}, elsewhere, wheels="wheels/requirements.txt")
    with pytest.raises(BundleError, match=r"is for .*Python 2\.7 .*not this machine .*Export one on a machine like"):
        check(tmp_path)


def test_the_script_checks_a_bundle_with_the_standard_library_alone(tmp_path: Path) -> None:
    _bundle(tmp_path, {"jvm/k.tar": b"k"}, jvm={"kafka": "jvm/k.tar"})
    script = [sys.executable, "-I", bundle_manifest.__file__, "verify", str(tmp_path)]  # -I: no project on the path
    ok = subprocess.run(script, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "whole (1 files" in ok.stdout
    (tmp_path / "jvm/k.tar").unlink()
    broken = subprocess.run(script, capture_output=True, text=True, check=False)
    assert broken.returncode == 1
    assert "jvm/k.tar: missing" in broken.stderr


def test_project_requirements_are_what_setup_installs(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[build-system]\nrequires = ["setuptools>=69"]\n'
        '[project]\ndependencies = ["duckdb==1.5.5", "rich>=13"]\n'
        '[project.optional-dependencies]\ndev = ["pytest>=8"]\nother = ["nope"]\n'
    )
    assert project_requirements(pyproject) == ["duckdb==1.5.5", "rich>=13", "pytest>=8", "setuptools>=69", "pip"]


def test_the_wheels_are_pinned_to_this_environment_but_the_installers() -> None:
    here = [("numpy", "2.4.6"), ("setuptools", "65.5.0"), ("pip", "26.3"), ("streamline-mesh", "0.1.0"), ("Rich", "15")]
    assert environment_constraints(here) == ["Rich==15", "numpy==2.4.6"]


def test_the_pinned_requirements_come_from_pips_report(tmp_path: Path) -> None:
    wheel = tmp_path / "rich-13.9.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    chosen = {"download_info": {"url": wheel.as_uri()}, "metadata": {"name": "rich", "version": "13.9.0"}}
    report = {"install": [chosen]}
    digest = bundle_manifest.sha256_of(wheel)
    assert pinned_requirements(report, tmp_path) == {wheel.name: f"rich==13.9.0 --hash=sha256:{digest}"}
    elsewhere = {"install": [{"download_info": {"url": "https://example.org/x.whl"}, "metadata": {}}]}
    with pytest.raises(BundleError, match="not a wheel of"):
        pinned_requirements(elsewhere, tmp_path)


def test_apts_uris_give_each_package_its_version_and_digest() -> None:
    digest = "ab" * 32
    output = (
        "Reading package lists...\n"
        f"'http://deb.example/pool/main/c/chromium/chromium_156.0-1~deb12u1_amd64.deb' "
        f"chromium_156.0-1~deb12u1_amd64.deb 81193668 SHA256:{digest}\n"
        "'http://deb.example/pool/main/l/llvm/libllvm15_1%3a15.0.6-4+b1_amd64.deb' "
        "libllvm15_1%3a15.0.6-4+b1_amd64.deb 23115156 MD5Sum:8e7e741807b1e1939df8f58323affdcb\n"
        "'http://deb.example/debian-security/pool/updates/main/l/xz-utils/liblzma5_5.4.1-1+deb12u2_amd64.deb' "
        "liblzma5_5.4.1-1+deb12u2_amd64.deb 205796 \n"
    )
    chromium, llvm, lzma = parse_print_uris(output)
    assert (lzma.name, lzma.version, lzma.size, lzma.digest) == ("liblzma5", "5.4.1-1+deb12u2", 205796, "")
    assert (chromium.name, chromium.version, chromium.size) == ("chromium", "156.0-1~deb12u1", 81193668)
    assert (chromium.algorithm, chromium.digest) == ("sha256", digest)
    assert (llvm.name, llvm.version, llvm.file) == ("libllvm15", "1:15.0.6-4+b1", "libllvm15_1%3a15.0.6-4+b1_amd64.deb")
    assert (llvm.algorithm, llvm.digest) == ("md5", "8e7e741807b1e1939df8f58323affdcb")


def test_a_package_file_matches_by_size_and_digest(tmp_path: Path) -> None:
    deb = tmp_path / "x_1_amd64.deb"
    deb.write_bytes(b"deb")
    package = DebianPackage("x", "1", deb.name, 3, "md5", hashlib.md5(b"deb").hexdigest())
    assert package.matches(deb)
    assert not dataclasses.replace(package, size=4).matches(deb)
    assert not dataclasses.replace(package, digest="0" * 32).matches(deb)
    assert not package.matches(tmp_path / "absent.deb")
    assert not dataclasses.replace(package, algorithm="", digest="").matches(deb), "no digest: fetched again"


def _jvm_bundle(root: Path, cache: Path, artifact: JvmArtifact) -> Path:
    """A bundle carrying `artifact` as `pack` writes it, from a made-up resolved directory."""
    resolved = artifact.directory(cache)
    (resolved / "lib").mkdir(parents=True)
    (resolved / "lib" / "kafka.jar").write_bytes(b"jar")
    (resolved / ".resolved").touch()
    archive = root / "jvm" / f"{resolved.name}.tar"
    archive.parent.mkdir(parents=True)
    artifact.pack(cache, archive)
    _bundle(root, {}, jvm={artifact.name: f"jvm/{archive.name}"})
    manifest = read_manifest(root)
    files = (describe_file(root, archive),)
    (root / MANIFEST).write_text(dataclasses.replace(manifest, files=files).to_json())
    return archive


def test_the_stack_takes_a_jvm_artifact_from_the_bundle_before_maven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifact = JvmArtifact("kafka")
    _jvm_bundle(tmp_path / "bundle", tmp_path / "exporter-cache", artifact)
    monkeypatch.setenv("PATH", str(tmp_path / "no-maven-here"))
    cache = tmp_path / "cache"
    target = artifact.resolve(cache, tmp_path / "maven.log", tmp_path / "bundle")
    assert target == artifact.directory(cache) and artifact.is_resolved(cache)
    assert (target / "lib" / "kafka.jar").read_bytes() == b"jar"


def test_a_damaged_archive_in_the_bundle_stops_the_start_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifact = JvmArtifact("kafka")
    archive = _jvm_bundle(tmp_path / "bundle", tmp_path / "exporter-cache", artifact)
    with open(archive, "r+b") as f:
        f.seek(100)
        f.write(b"X")
    monkeypatch.setenv("PATH", str(tmp_path / "no-maven-here"))
    with pytest.raises(StackError, match=rf"MESH_BUNDLE: .*jvm/{archive.name}: corrupt"):
        artifact.resolve(tmp_path / "cache", tmp_path / "maven.log", tmp_path / "bundle")
    assert not artifact.is_resolved(tmp_path / "cache")


def test_a_bundle_of_another_version_leaves_the_artifact_to_maven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _jvm_bundle(tmp_path / "bundle", tmp_path / "exporter-cache", JvmArtifact("kafka"))
    assert bundled_jvm_archive(tmp_path / "bundle", "kafka", "kafka-000000000000") is None
    assert bundled_jvm_archive(tmp_path / "bundle", "connect", JvmArtifact("connect").directory(tmp_path).name) is None
    monkeypatch.setenv("PATH", str(tmp_path / "no-maven-here"))
    with pytest.raises(MissingDependency, match="Maven"):
        JvmArtifact("connect").resolve(tmp_path / "cache", tmp_path / "maven.log", tmp_path / "bundle")


def test_the_import_command_names_what_is_wrong(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["bundle", "import", str(tmp_path / "usb")])
    assert missing.exit_code == 1
    assert "no such directory" in missing.output
    _bundle(tmp_path / "usb", {"jvm/k.tar": b"k"}, jvm={"kafka": "jvm/k.tar"})
    (tmp_path / "usb" / "jvm/k.tar").write_bytes(b"")
    damaged = runner.invoke(app, ["bundle", "import", str(tmp_path / "usb"), "--no-system"])
    assert damaged.exit_code == 1
    assert "jvm/k.tar" in damaged.output and "truncated" in damaged.output
    unknown = runner.invoke(app, ["bundle", "import", str(tmp_path / "usb"), "--parts", "jars"])
    assert unknown.exit_code == 1
    assert "no such part: jars" in unknown.output


def test_mesh_bundle_set_empty_means_no_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESH_BUNDLE", "")  # what `make` passes for a variable it has empty
    assert load_settings().bundle is None
    monkeypatch.setenv("MESH_BUNDLE", "/media/usb/mesh-bundle")
    assert load_settings().bundle == Path("/media/usb/mesh-bundle")
    assert load_settings().environment({})["MESH_BUNDLE"] == "/media/usb/mesh-bundle"  # products inherit it
