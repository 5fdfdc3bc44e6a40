"""The strangler fig as a fault experiment (faults/strangler-cutover.yaml): the business goes on through
the routing facade while `mesh migrate subscriptions` moves every customer to the subscriptions service,
and the product reading both is killed and its broker restarted on the way. The probes say whether
subscriptions.subscriptions serves every subscription as its owner has it, each change once."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from mesh_chaos import evidence
from mesh_chaos.activities import Configuration, _base, _remember, _state, _until, comes_to_agree, settings_of

PRODUCT = "subscriptions.subscriptions"
MONOLITH_INPUT = "subscriptions-cdc"


def migrate(command: str, configuration: Configuration, percent: int = 100) -> str:
    """`mesh migrate subscriptions start | step PERCENT | finish | rollback`, in this process."""
    from mesh_sources.strangler import Migration

    with Migration(settings_of(configuration)) as migration:
        match command:
            case "start":
                status = migration.start()
            case "step":
                status = migration.step(int(percent))
            case "finish":
                status = migration.finish()
            case "rollback":
                status = migration.rollback()
            case _:
                raise ValueError(f"no migration command {command!r}: start, step, finish or rollback")
    _remember(configuration, migration={"phase": status.phase, "percent": status.percent, **status.subscriptions})
    return f"{command}: {status.percent} % on the service, phase {status.phase}"


def run_business(rate: float, seconds: float, configuration: Configuration) -> str:
    """The monolith's users, through the routing facade, for `seconds`; what they changed is counted."""
    from mesh_sources.legacy import LegacyWorkload
    from mesh_sources.running import run_workload

    settings = settings_of(configuration)
    _remember(configuration, business_began=datetime.now(UTC).isoformat())
    with LegacyWorkload.for_mesh(settings, seed=2026) as workload:
        run_workload(workload.step, rate=float(rate), duration_s=float(seconds))
        rows = workload.counts.rows
        made = {
            op: rows[("subscriptions", change)] for op, change in (("c", "insert"), ("u", "update"), ("d", "delete"))
        }
    _remember(configuration, business=made, transactions=workload.counts.transactions)
    return f"{workload.counts.transactions} transactions, subscription changes {made}"


# --- probes ----------------------------------------------------------------------------------------------


def subscriptions_as_owned(within_s: float, configuration: Configuration) -> bool:
    """subscriptions.subscriptions serves every subscription as the system that owns it has it now."""
    return comes_to_agree(configuration, "subscriptions", evidence.subscriptions_compared, within_s)


def every_change_once(within_s: float, configuration: Configuration) -> bool:
    """Every subscription change the business made is in the product's history once and on its stream
    once (true before the business ran)."""
    state = _state(configuration)
    if "business" not in state:
        return True
    settings = settings_of(configuration)
    last: list[evidence.ChangesAccounted] = []

    def exact() -> bool:
        last[:] = [evidence.subscription_changes_accounted(settings, state["business"], state["business_began"])]
        return last[0].exact

    held = _until(exact, within_s, pause_s=3.0)
    if last:
        _remember(configuration, accounting=str(last[0]), exact=last[0].exact)
    return held


def monolith_input_as_phase(within_s: float, configuration: Configuration) -> bool:
    """The product reads the monolith until the migration finishes, and no more after (its discovery
    document says which)."""
    from mesh_sources.strangler import migration_phase

    settings = settings_of(configuration)

    def agrees() -> bool:
        expected = "retired" if migration_phase(settings) == "finished" else "reading"
        try:
            inputs = httpx.get(_base(settings, PRODUCT), timeout=10).json().get("inputs", {})
        except (httpx.HTTPError, ValueError):
            return False
        _remember(configuration, monolith_input=inputs.get(MONOLITH_INPUT))
        return bool(inputs.get(MONOLITH_INPUT) == expected)

    return _until(agrees, within_s, pause_s=2.0)
