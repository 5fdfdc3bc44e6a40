"""The JVM parts are pinned in poms shipped with the package, and resolved into a content-keyed cache."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from mesh_stack.java import JvmArtifact

ARTIFACTS = ["kafka", "connect", "debezium-postgres", "apicurio"]
NS = {"m": "http://maven.apache.org/POM/4.0.0"}


@pytest.mark.parametrize("name", ARTIFACTS)
def test_every_version_is_pinned(name: str) -> None:
    pom = ElementTree.parse(JvmArtifact(name).pom()).getroot()
    properties = {p.tag.split("}")[1]: p.text or "" for p in pom.findall("m:properties/*", NS)}
    versions = [v.text or "" for v in pom.iter("{http://maven.apache.org/POM/4.0.0}version")]
    for version in versions:
        resolved = re.sub(r"\$\{([^}]+)\}", lambda m: properties[m.group(1)], version)
        assert re.fullmatch(r"\d+(\.\d+)*(\.Final)?", resolved), f"{name}: {version!r} is not a pinned release"


def test_the_cache_directory_is_keyed_by_the_pom(tmp_path: Path) -> None:
    kafka, connect = JvmArtifact("kafka"), JvmArtifact("connect")
    assert kafka.directory(tmp_path) != connect.directory(tmp_path)
    assert kafka.directory(tmp_path) == JvmArtifact("kafka").directory(tmp_path)
    assert not kafka.is_resolved(tmp_path)


def test_a_resolved_artifact_is_not_resolved_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    artifact = JvmArtifact("kafka")
    target = artifact.directory(tmp_path)
    target.mkdir(parents=True)
    (target / ".resolved").touch()
    monkeypatch.setenv("PATH", str(tmp_path / "no-maven-here"))
    assert artifact.resolve(tmp_path, tmp_path / "maven.log") == target
