"""Running a fault: the mesh it needs is brought up, Chaos Toolkit runs the experiment (steady state
before, the injection, steady state after, rollbacks), and the journal becomes a verdict: did the steady
state come back, within the bound, with nothing lost and nothing duplicated."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mesh_chaos.experiments import Fault
from mesh_config import MeshSettings

Say = Callable[[str], None]


@dataclass(frozen=True)
class Verdict:
    fault: str
    status: str  # Chaos Toolkit's: completed, failed, aborted, interrupted
    before_met: bool
    after_met: bool
    recovered_in_s: float | None  # from the end of the injection to the steady state back
    recover_within_s: float
    evidence: dict[str, Any]  # what the probes noted: the accounting, the end-to-end freshness
    failures: list[str]  # activities that raised, with why

    @property
    def passed(self) -> bool:
        recovered = self.recovered_in_s is not None and self.recovered_in_s <= self.recover_within_s
        return self.status == "completed" and self.before_met and self.after_met and recovered and not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "passed": self.passed}


def bring_up(settings: MeshSettings, fault: Fault, say: Say, *, through_toxiproxy: bool = True) -> None:
    """What the fault needs, each on the path it says: a product the fault puts behind Toxiproxy is
    (re)started on the proxies, any other on the direct path, even if an interrupted network fault
    left it on a proxy."""
    from mesh_chaos.network import route, unroute_all
    from mesh_stack import Stack
    from mesh_stack.assembly import ensure_capture, ensure_products, ensure_services

    say("the stack")
    Stack(settings).up()
    if fault.sources:
        say(f"change capture of {', '.join(fault.sources)}")
        ensure_capture(settings, fault.sources)
    ensure_services(settings, audit=fault.audit, catalog=True)
    routes = fault.through_toxiproxy if through_toxiproxy else {}
    if not routes:
        restored = unroute_all(settings)
        if restored:
            say(f"back on the direct path: {', '.join(restored)}")
    if fault.products:
        say(f"products: {', '.join(fault.products)}")
        ensure_products(settings, [p for p in fault.products if p not in routes])
        for product, upstreams in routes.items():
            say(route(settings, product, upstreams))


class _Progress(logging.Handler):
    """Chaos Toolkit reports each step through its logger: shown as the run's progress."""

    def __init__(self, say: Say) -> None:
        super().__init__(logging.INFO)
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        self.say(record.getMessage())


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def run_fault(settings: MeshSettings, fault: Fault, duration_s: float, say: Say = lambda _: None) -> Verdict:
    from chaoslib.experiment import run_experiment

    bring_up(settings, fault, say)
    state_file = settings.home / "chaos" / f"{fault.name}.json"
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.unlink(missing_ok=True)
    (settings.home / "chaos" / "in-progress").write_text(fault.name)
    experiment = copy.deepcopy(fault.experiment)
    experiment["configuration"] = {
        "mesh": settings.model_dump(mode="json", exclude_defaults=True),
        "state_file": str(state_file),
        "fault_seconds": float(duration_s),
    }
    logger = logging.getLogger("chaostoolkit")
    handler = _Progress(say)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        journal = run_experiment(experiment, settings={})
    finally:
        logger.removeHandler(handler)
        (settings.home / "chaos" / "in-progress").unlink(missing_ok=True)
    (settings.home / "chaos" / f"{fault.name}.journal.json").write_text(json.dumps(journal, indent=2, default=str))
    return _verdict(fault, journal, json.loads(state_file.read_text()) if state_file.exists() else {})


def _verdict(fault: Fault, journal: dict[str, Any], noted: dict[str, Any]) -> Verdict:
    states = journal.get("steady_states") or {}
    before = bool((states.get("before") or {}).get("steady_state_met"))
    after_state = states.get("after") or {}
    after = bool(after_state.get("steady_state_met"))
    recovered = None
    if after and journal.get("run") and after_state.get("probes"):
        injected = max(_when(a["end"]) for a in journal["run"])
        back = max(_when(p["end"]) for p in after_state["probes"])
        recovered = round((back - injected).total_seconds(), 1)
    failures = [
        f"{a['activity']['name']}: {a.get('exception', [''])[-1].strip()}"
        for a in [*journal.get("run", []), *journal.get("rollbacks", [])]
        if a.get("status") == "failed"
    ]
    evidence = {k: v for k, v in noted.items() if k != "marks"}
    return Verdict(
        fault.name, str(journal.get("status")), before, after, recovered, fault.recover_within_s, evidence, failures
    )


def stop_fault(settings: MeshSettings, fault: Fault, say: Say = lambda _: None) -> None:
    """Undo a fault that was interrupted: its rollbacks, then the stack and its products up again."""
    import importlib

    from chaoslib import substitute

    configuration = {
        "mesh": settings.model_dump(mode="json", exclude_defaults=True),
        "state_file": str(settings.home / "chaos" / f"{fault.name}.json"),
        "fault_seconds": 0.0,
    }
    for activity in fault.experiment.get("rollbacks", []):
        provider = activity["provider"]
        function = getattr(importlib.import_module(provider["module"]), provider["func"])
        arguments = substitute(dict(provider.get("arguments", {})), configuration, {})
        say(f"rollback: {activity['name']}: {function(**arguments, configuration=configuration)}")
    bring_up(settings, fault, say, through_toxiproxy=False)
    (settings.home / "chaos" / "in-progress").unlink(missing_ok=True)
