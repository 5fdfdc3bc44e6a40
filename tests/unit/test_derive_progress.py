"""The decisions that make a derived product's refreshes exactly once across its tables, without a
catalog: the anchor commits last with the progress, and a process that starts goes back to it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mesh_sdk.derive.progress import (
    INPUTS,
    PROGRESS,
    REFRESH,
    Progress,
    changed_inputs,
    commit_order,
    commit_summary,
    unknown_ports,
)
from mesh_sdk.derive.state import DerivationStates, StateUnreadable
from mesh_sdk.spec.logic import Context
from mesh_sdk.spec.product import load_product
from mesh_testing.fakes import MemoryArtifacts

OUTPUTS = ["daily", "sessions", "weekly"]  # the anchor is the first output port


def test_the_anchor_commits_last_and_the_others_in_declared_order() -> None:
    assert commit_order(OUTPUTS, "daily") == ["sessions", "weekly", "daily"]
    assert commit_order(["daily"], "daily") == ["daily"]


def test_a_refresh_is_due_when_an_input_has_a_snapshot_the_last_one_did_not_read() -> None:
    seen = {"playback": 10, "titles": 3}
    assert changed_inputs({"playback": 10, "titles": 3}, seen) == frozenset()
    assert changed_inputs({"playback": 11, "titles": 3}, seen) == {"playback"}
    assert changed_inputs({"playback": 10, "titles": 3, "customers": None}, seen) == frozenset()
    assert changed_inputs({"playback": 10, "titles": 3, "customers": 1}, seen) == {"customers"}


def test_the_progress_record_reads_back_as_written() -> None:
    progress = Progress(7, {"playback": 10, "titles": None}, {"sessions": 99, "weekly": None})
    properties = {"other": "x", **progress.record()}
    assert Progress.of(properties) == progress
    assert json.loads(properties[PROGRESS]) == {
        "refresh": 7,
        "inputs": {"playback": 10, "titles": None},
        "outputs": {"sessions": 99, "weekly": None},
        "state": None,
    }


def test_a_table_never_refreshed_starts_from_nothing() -> None:
    start = Progress.of({})
    assert (start.refresh, start.seen(["playback", "titles"])) == (0, {"playback": None, "titles": None})
    assert start.roll_back(OUTPUTS, "daily") == {"sessions": None, "weekly": None}


def test_after_a_crash_between_two_commits_every_other_table_goes_back_to_the_last_complete_refresh() -> None:
    # Refresh 7 completed; refresh 8 committed `sessions` (snapshot 120), then the process died before
    # the anchor's commit: the anchor still records refresh 7, so sessions goes back to 99 and refresh
    # 8 runs again from the inputs refresh 7 read.
    anchor_properties = Progress(7, {"playback": 10}, {"sessions": 99, "weekly": 40}).record()
    progress = Progress.of(anchor_properties)
    assert progress.roll_back(OUTPUTS, "daily") == {"sessions": 99, "weekly": 40}
    assert progress.seen(["playback"]) == {"playback": 10}
    assert progress.refresh == 7


def test_every_commit_of_a_refresh_names_it_and_its_inputs() -> None:
    assert commit_summary(8, {"playback": 11}) == {INPUTS: '{"playback": 11}', REFRESH: "8"}


def test_updates_for_a_port_the_product_does_not_have_are_refused_by_name() -> None:
    assert unknown_ports(["daily", "sessions"], OUTPUTS) is None
    refusal = unknown_ports(["daily", "dialy"], OUTPUTS)
    assert refusal is not None and "['dialy']" in refusal and "daily" in refusal


def test_a_record_from_before_the_platform_kept_states_cannot_be_continued() -> None:
    old = Progress.of({PROGRESS: json.dumps({"refresh": 4, "inputs": {}, "outputs": {}})})
    assert not old.continues()
    assert Progress.of({}).continues()  # nothing refreshed yet: nothing to continue
    kept = Progress.of(Progress(4, {}, {}, "refresh-000000000004").record())
    assert kept.continues() and kept.state == "refresh-000000000004"
    stateless = Progress.of(Progress(4, {}, {}, None).record())
    assert stateless.continues() and stateless.state is None


def test_a_derivations_state_is_saved_per_refresh_and_read_back() -> None:
    states = DerivationStates(MemoryArtifacts(), keep=2)
    assert states.save(1, {}) is None  # a derivation that keeps nothing saves nothing
    first = states.save(1, {"open": {"s1": [1, 2]}})
    assert first == "refresh-000000000001" and states.load(first) == {"open": {"s1": [1, 2]}}
    for refresh in (2, 3, 4):
        states.save(refresh, {"open": refresh})
    states.forget_older(than=first)  # the one the progress names stays, whatever its age
    assert states.files.versions() == [first, "refresh-000000000003", "refresh-000000000004"]
    states.forget_older(than="refresh-000000000004")
    assert states.files.versions() == ["refresh-000000000003", "refresh-000000000004"]


class CountedListings(MemoryArtifacts):
    def __init__(self) -> None:
        super().__init__()
        self.listings = 0

    def versions(self) -> list[str]:
        self.listings += 1
        return super().versions()


def test_keeping_the_newest_states_lists_the_store_once_per_process() -> None:
    files = CountedListings()
    files.put("refresh-000000000001", "state.pickle", b"left by an earlier process")
    states = DerivationStates(files, keep=2)
    for refresh in range(2, 12):
        name = states.save(refresh, {"open": refresh})
        states.forget_older(than=name)
    assert files.listings == 1
    assert files.versions() == ["refresh-000000000010", "refresh-000000000011"]


def test_a_state_that_cannot_be_read_says_so() -> None:
    files = MemoryArtifacts()
    files.put("refresh-000000000001", "state.pickle", b"not a pickle")
    with pytest.raises(StateUnreadable, match="refresh-000000000001"):
        DerivationStates(files).load("refresh-000000000001")


def test_the_same_code_loaded_twice_reads_the_state_the_first_load_saved(tmp_path: Path) -> None:
    engagement = Path(__file__).resolve().parents[2] / "products" / "engagement.viewing"
    first, again = load_product(engagement), load_product(engagement)
    assert first.derivation is again.derivation  # the same module: its objects pickle either way
    states = DerivationStates(MemoryArtifacts())
    made = first.derivation(Context(first.id, MemoryArtifacts()))  # type: ignore[misc]
    saved = states.save(1, {"sessionizer": made.sessionizer})
    assert saved is not None and type(states.load(saved)["sessionizer"]) is type(made.sessionizer)
    changed = tmp_path / "engagement.viewing"
    shutil.copytree(engagement, changed, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    (changed / "product.py").write_text((engagement / "product.py").read_text() + "\n# changed\n")
    assert load_product(changed).derivation is not first.derivation  # other code: another module
