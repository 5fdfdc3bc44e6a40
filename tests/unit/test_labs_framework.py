"""The lab framework without servers: lab folders load strictly, progress is kept, and the verbs
(check, hint, answer, solve, skip-to, reset) behave on a lab whose checks read a file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mesh_config import load_settings
from mesh_labs import LabError, LabRunner, load_lab
from mesh_labs.catalogue import find_folder, lab_folders
from mesh_labs.spec import LabSpecError

REPO = Path(__file__).resolve().parents[2]

LAB_YAML = """
id: "07"
slug: toy
title: A toy lab
concept: testing the framework
duration_min: 10
difficulty: beginner
profile: {catalog: false, learner: false}
steps:
  - id: touch
    title: Touch a file
    task: create the file
    hints: [a nudge, "more direct", the answer]
  - id: name
    title: Name the colour
    task: mesh lab answer name COLOUR
    hints: [look at the file]
"""

CHECKS = """
from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()

def _file(mesh: LabMesh):
    return mesh.settings.home / "touched"

@lab.setup
def setup(mesh: LabMesh) -> None:
    mesh.baseline["colour"] = "teal"

@lab.reset
def reset(mesh: LabMesh) -> None:
    _file(mesh).unlink(missing_ok=True)

@lab.check("touch")
def touched(mesh: LabMesh) -> Outcome:
    return passed("the file is there") if _file(mesh).exists() else failed("no file")

@lab.solve("touch")
def touch(mesh: LabMesh) -> None:
    _file(mesh).touch()

@lab.check("name")
def named(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("name")
    return passed("right") if answer == mesh.baseline["colour"] else failed(f"answer {answer!r}")

@lab.solve("name")
def name(mesh: LabMesh) -> None:
    mesh.give_answer("name", mesh.baseline["colour"])
"""


def _lab(root: Path, yaml: str = LAB_YAML, checks: str = CHECKS, folder: str = "07-toy") -> Path:
    path = root / "labs" / folder
    path.mkdir(parents=True)
    (path / "lab.yaml").write_text(textwrap.dedent(yaml))
    (path / "checks.py").write_text(checks)
    (path / "README.md").write_text("# toy\n")
    return path


def _runner(tmp_path: Path) -> LabRunner:
    settings = load_settings(home=tmp_path / "home", labs_dir=tmp_path / "labs")
    settings.home.mkdir()
    return LabRunner(settings, bring_up=lambda *_: None)


def test_the_whole_path_fail_solve_pass_reset(tmp_path: Path) -> None:
    _lab(tmp_path)
    runner = _runner(tmp_path)
    runner.start("7")
    first = runner.check()
    assert [r.outcome.passed for r in first] == [False, False]
    assert first[0].hint == "a nudge"
    assert runner.solve().step.id == "touch"  # the first step not passed
    assert runner.answer("name", "red").outcome.passed is False
    assert runner.answer("name", "teal").outcome.passed is True
    assert all(r.outcome.passed for r in runner.check())
    runner.reset()
    assert not any(r.outcome.passed for r in runner.check())
    kept = runner.progress().labs["07-toy"]
    assert kept.answers == {} and kept.steps["touch"].status == "failed"


def test_hints_come_in_tiers_and_are_recorded(tmp_path: Path) -> None:
    _lab(tmp_path)
    runner = _runner(tmp_path)
    runner.start("toy")
    assert [runner.hint("touch")[2] for _ in range(4)] == ["a nudge", "more direct", "the answer", "the answer"]
    assert runner.progress().labs["07-toy"].steps["touch"].hints == 3
    # a failing check now shows the most direct hint taken so far
    assert runner.check("touch")[0].hint == "the answer"


def test_skip_to_solves_what_comes_before(tmp_path: Path) -> None:
    _lab(tmp_path)
    runner = _runner(tmp_path)
    runner.start("07-toy")
    solved = runner.skip_to("name")
    assert [r.step.id for r in solved] == ["touch"]
    assert runner.progress().labs["07-toy"].steps["touch"].solved is True
    assert runner.check("name")[0].outcome.passed is False


def test_verbs_before_start_say_how_to_start(tmp_path: Path) -> None:
    _lab(tmp_path)
    with pytest.raises(LabError, match="mesh lab start"):
        _runner(tmp_path).check()


def test_a_check_that_raises_is_a_failure_saying_why(tmp_path: Path) -> None:
    broken = 'return passed("the file is there") if _file(mesh).exists() else failed("no file")'
    _lab(tmp_path, checks=CHECKS.replace(broken, "raise OSError('disk gone')"))
    runner = _runner(tmp_path)
    runner.start("7")
    result = runner.check("touch")[0]
    assert not result.outcome.passed and "disk gone" in result.outcome.saw


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda y: y.replace('id: "07"', 'id: "08"'), "must match the folder name"),
        (lambda y: y.replace("  - id: name", "  - id: touch"), "appears twice"),
        (lambda y: y.replace("duration_min: 10", "duration_min: 500"), "duration_min"),
        (lambda y: y.replace("hints: [look at the file]", "hints: []"), "steps.1.hints"),
        (lambda y: y.replace("concept: testing the framework", "concept: x\nowner: me"), "owner"),
        (lambda y: y + "\n  - oops: [", "not valid YAML"),
    ],
)
def test_a_mistake_in_lab_yaml_names_the_file_and_the_field(tmp_path: Path, change, problem) -> None:  # type: ignore[no-untyped-def]
    folder = _lab(tmp_path, yaml=change(textwrap.dedent(LAB_YAML)))
    with pytest.raises(LabSpecError, match=problem) as raised:
        load_lab(folder)
    assert "lab.yaml" in str(raised.value)


def test_checks_py_must_cover_every_step(tmp_path: Path) -> None:
    folder = _lab(tmp_path, checks=CHECKS.replace('@lab.solve("name")', '@lab.solve("nom")'))
    with pytest.raises(LabSpecError, match=r"step 'name' has no solve.*unknown step 'nom'"):
        load_lab(folder)


def test_labs_are_found_by_number_slug_or_folder(tmp_path: Path) -> None:
    folder = _lab(tmp_path)
    for ref in ("7", "07", "toy", "07-toy"):
        assert find_folder(tmp_path / "labs", ref) == folder
    with pytest.raises(LabSpecError, match="07-toy"):
        find_folder(tmp_path / "labs", "99")


@pytest.mark.parametrize("folder", lab_folders(REPO / "labs"), ids=lambda p: p.name)
def test_every_lab_of_the_repository_loads_and_reads_like_a_lab(folder: Path) -> None:
    loaded = load_lab(folder)
    readme = (folder / "README.md").read_text()
    assert loaded.spec.title in readme, "the README starts with the lab's title"
    for section in ("## Goal", "## Steps", "## Questions for the room"):
        assert section in readme, f"{folder.name}/README.md has no {section!r} section"
    for step in loaded.spec.steps:
        assert f"`{step.id}`" in readme, f"{folder.name}/README.md does not walk through step {step.id!r}"
    assert 10 <= loaded.spec.duration_min <= 25


def test_a_labs_addresses_are_the_learners_own_when_the_mesh_is_not_on_the_defaults() -> None:
    from mesh_config import load_settings
    from mesh_labs.localize import localized
    from mesh_stack.isolated import isolated_settings

    spec = load_lab(REPO / "labs" / "07-broker-outage").spec
    assert localized(spec, load_settings()) == spec
    moved = localized(spec, isolated_settings("elsewhere", 21600))
    hints = " ".join(h for s in moved.steps for h in s.hints) + " ".join(s.task for s in moved.steps)
    assert "127.0.0.1:18100" not in hints and "127.0.0.1:21620/observations" in hints
