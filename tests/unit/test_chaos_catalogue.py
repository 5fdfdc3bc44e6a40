"""The fault catalogue without servers: every experiment loads and says what it needs, what to
observe and what absorbed it; the verdict fails whenever the journal shows the mesh did not recover."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mesh_chaos.experiments import FaultError, catalogue, find_fault, load_fault
from mesh_chaos.runner import _verdict

FAULTS = Path(__file__).resolve().parents[2] / "faults"
MINIMUM = {
    "product-kill",
    "broker-restart",
    "registry-down",
    "connect-kill",
    "poison-burst",
    "schema-breaking",
    "audit-tamper",
    "broker-latency",
    "broker-partition",
    "s3-latency",
    "s3-partition",
}


def test_the_catalogue_holds_every_fault_the_issue_names() -> None:
    faults = {f.name: f for f in catalogue(FAULTS)}
    assert set(faults) >= MINIMUM
    for fault in faults.values():
        assert fault.experiment["steady-state-hypothesis"]["probes"], fault.name
        assert fault.mesh["observe"] and fault.mesh["explanation"], fault.name
        assert fault.products or fault.sources or fault.audit, f"{fault.name} names what it needs running"


def test_an_experiment_without_its_explanation_is_refused(tmp_path: Path) -> None:
    text = (FAULTS / "product-kill.yaml").read_text().replace("    explanation: >-", "    explained: >-")
    (tmp_path / "broken.yaml").write_text(text)
    with pytest.raises(FaultError, match="explanation is missing"):
        load_fault(tmp_path / "broken.yaml")
    with pytest.raises(FaultError, match="product-kill"):
        find_fault(FAULTS, "no-such-fault")


def _journal(status: str = "completed", before: bool = True, after: bool = True, back: str = "10") -> dict[str, Any]:
    return {
        "status": status,
        "steady_states": {
            "before": {"steady_state_met": before},
            "after": {"steady_state_met": after, "probes": [{"end": f"2026-12-03T10:00:{back}+00:00"}]},
        },
        "run": [{"activity": {"name": "kill"}, "status": "succeeded", "end": "2026-12-03T10:00:00+00:00"}],
        "rollbacks": [],
    }


def test_the_verdict_passes_only_when_the_steady_state_came_back_in_time() -> None:
    fault = find_fault(FAULTS, "product-kill")
    good = _verdict(fault, _journal(), {"exact": True, "marks": {}})
    assert good.passed and good.recovered_in_s == 10 and "marks" not in good.evidence
    assert not _verdict(fault, _journal(after=False), {}).passed
    assert not _verdict(fault, _journal(before=False), {}).passed
    assert not _verdict(fault, _journal(status="failed"), {}).passed
    late = _journal()
    late["steady_states"]["after"]["probes"][0]["end"] = "2026-12-03T10:05:00+00:00"
    assert not _verdict(fault, late, {}).passed  # 300 s, beyond the bound of 120 s
    broken = _journal()
    broken["run"][0] |= {"status": "failed", "exception": ["RuntimeError: product-x is not running\n"]}
    assert _verdict(fault, broken, {}).failures == ["kill: RuntimeError: product-x is not running"]


def test_a_network_fault_puts_its_product_behind_toxiproxy_and_takes_it_back_in_its_rollback() -> None:
    network = [f for f in catalogue(FAULTS) if f.through_toxiproxy]
    assert {f.name for f in network} >= {"broker-latency", "broker-partition", "s3-latency", "s3-partition"}
    for fault in network:
        rollbacks = [(a["provider"]["func"], a["provider"].get("arguments", {})) for a in fault.experiment["rollbacks"]]
        for product in fault.through_toxiproxy:
            assert ("route_directly", {"product": product}) in rollbacks, fault.name
        assert rollbacks[-1][0] == "stop_toxiproxy", f"{fault.name}: Toxiproxy goes last, once nothing uses it"
        method = [a["provider"]["func"] for a in fault.experiment["method"]]
        assert method.index("add_toxic") < method.index("heal"), f"{fault.name} heals within its method"


def _routed(tmp_path: Path, needs: str) -> Path:
    text = (FAULTS / "s3-partition.yaml").read_text()
    old = "needs: {products: [playback.events], through_toxiproxy: {playback.events: [s3]}}"
    assert old in text
    (tmp_path / "routed.yaml").write_text(text.replace(old, needs))
    return tmp_path / "routed.yaml"


def test_a_fault_routes_only_products_it_needs_and_only_to_known_upstreams(tmp_path: Path) -> None:
    fault = load_fault(
        _routed(tmp_path, "needs: {products: [playback.events], through_toxiproxy: {playback.events: [s3, kafka]}}")
    )
    assert fault.through_toxiproxy == {"playback.events": ["s3", "kafka"]}
    with pytest.raises(FaultError, match="not among the products it needs"):
        load_fault(_routed(tmp_path, "needs: {products: [playback.events], through_toxiproxy: {content.titles: [s3]}}"))
    with pytest.raises(FaultError, match="choose from"):
        load_fault(
            _routed(tmp_path, "needs: {products: [playback.events], through_toxiproxy: {playback.events: [postgres]}}")
        )


def test_what_the_product_did_during_the_fault_is_noted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from mesh_chaos import activities

    clock = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    first = {"snapshot_id": 1, "added_rows": 200}
    seen = iter(
        [
            {"snapshots": [first], "freshness_seconds": 0.4},
            {"snapshots": [first], "freshness_seconds": 1.4},
            {"snapshots": [first, {"snapshot_id": 2, "added_rows": 750}], "freshness_seconds": 0.2},
        ]
    )
    monkeypatch.setattr(
        activities, "_observations", lambda _c, _p: next(seen, {"snapshots": [], "freshness_seconds": 4.6})
    )
    configuration = {"state_file": str(tmp_path / "state.json")}
    said = activities.hold_and_observe("playback.events", 4, configuration)
    assert said == "1 snapshot in 4 s (750 rows), data up to 5 s old"
    assert activities._state(configuration)["during_fault"] == said
