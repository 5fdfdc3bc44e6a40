"""Lab 07's checks: the broker's process since the lab started, the freshness the catalog saw while it
was away (its history of the observation port), the product's process (never restarted), and the
lab's own accounting of every message sent."""

from __future__ import annotations

from datetime import datetime

from mesh_labs import Lab, LabMesh, Outcome, failed, passed, traffic

lab = Lab()
PRODUCT = traffic.PRODUCT
PRODUCT_ID = "urn:mesh:playback:events:v1"
BROKER = "kafka"


@lab.setup
def note_the_processes(mesh: LabMesh) -> None:
    traffic.mark(mesh)
    mesh.mark_process(BROKER)
    mesh.mark_process(PRODUCT)


@lab.reset
def broker_back(mesh: LabMesh) -> None:
    from mesh_stack import Stack

    traffic.wait_sent(mesh)
    Stack(mesh.settings).up()


def _slo(mesh: LabMesh) -> float:
    return float(mesh.catalog(f"/products/{PRODUCT_ID}")["slos"]["freshness_seconds"])


@lab.check("stop-broker")
def broker_stopped(mesh: LabMesh) -> Outcome:
    broker = mesh.since_mark(BROKER)
    if not broker.replaced:
        return failed(f"the broker runs as when the lab started (pid {broker.pid_then})")
    if broker.pid_now is None:
        return passed(f"the broker (pid {broker.pid_then}) is away")  # what was sent is read once it is back
    if not mesh.since(traffic.INPUT):
        return failed("the broker went away, but no traffic had been sent: send some, before and while it is down")
    return passed(f"the broker (pid {broker.pid_then}) went away under traffic")


@lab.solve("stop-broker")
def stop_broker(mesh: LabMesh) -> None:
    from mesh_stack import Stack

    traffic.send(mesh, "--rate", "50", "--duration", "100", background=True)
    mesh.wait_for(lambda: mesh.since(traffic.INPUT), "the first events on the input", 30)
    Stack(mesh.settings)[BROKER].stop()


def _stale_seen(mesh: LabMesh) -> float | None:
    """The worst freshness the catalog read while the broker was away (since it stopped, or the lab
    began if it was killed), if it broke the SLO."""
    broker = mesh.since_mark(BROKER)
    if not broker.replaced:
        return None
    began = broker.stopped_at() or datetime.fromisoformat(mesh.progress.started_at or "1970-01-01T00:00:00+00:00")
    ended = broker.restarted_at() if broker.pid_now else None
    worst = [
        float(point["freshness_seconds"])
        for point in mesh.catalog(f"/products/{PRODUCT_ID}/observations")
        if point.get("freshness_seconds") is not None
        and datetime.fromisoformat(point["at"]) >= began
        and (ended is None or datetime.fromisoformat(point["at"]) <= ended)
    ]
    if worst and max(worst) > _slo(mesh):
        # Noted once seen: the catalog keeps its observation history in memory only, and a catalog
        # started again since would no longer show what the learner saw.
        mesh.baseline["stale_seen"] = max(worst)
    seen = mesh.baseline.get("stale_seen")
    return float(seen) if seen is not None else None


@lab.check("red")
def turned_red(mesh: LabMesh) -> Outcome:
    if not mesh.since_mark(BROKER).replaced:
        return failed("the broker has not been away yet")
    stale = _stale_seen(mesh)
    if stale is None:
        slo = _slo(mesh)
        return failed(f"the catalog has not seen freshness beyond the SLO ({slo:.0f} s) while the broker was away")
    return passed(f"the catalog saw the newest row {stale:.0f} s old, beyond the SLO of {_slo(mesh):.0f} s")


@lab.solve("red")
def wait_for_red(mesh: LabMesh) -> None:
    mesh.wait_for(lambda: _stale_seen(mesh), "freshness beyond the SLO in the catalog", 180, pause_s=5)


@lab.check("recover")
def recovered(mesh: LabMesh) -> Outcome:
    broker, product = mesh.since_mark(BROKER), mesh.since_mark(PRODUCT)
    if not broker.replaced:
        return failed("the broker has not been away yet")
    if broker.pid_now is None:
        return failed("the broker is still down: start it again")
    if product.replaced:
        return failed("the product was restarted: this step shows it recovering by itself (reset and try again)")
    observed = mesh.describe(PRODUCT, "/observations")
    behind, age = traffic.lag(mesh), observed.get("freshness_seconds")
    if behind or age is None or age > _slo(mesh):
        return failed(f"the broker is back; the product is {behind} messages behind, its newest row {age} s old: wait")
    return passed(f"the product recovered by itself: no lag, newest row {age:.0f} s old")


@lab.solve("recover")
def start_broker(mesh: LabMesh) -> None:
    from mesh_stack import Stack

    Stack(mesh.settings).up()
    traffic.wait_sent(mesh)
    traffic.wait_caught_up(mesh, timeout_s=180)
    # A few new events, as a learner sends to watch them arrive: after a long catch-up the newest row
    # may already be older than the SLO, with nothing more on its way.
    traffic.send(mesh, "--rate", "20", "--duration", "3")
    traffic.wait_caught_up(mesh)
    mesh.wait_for(lambda: recovered(mesh).passed, "the product fresh again", 60)


@lab.check("count")
def counted(mesh: LabMesh) -> Outcome:
    return traffic.check_kept(mesh, "count")


@lab.solve("count")
def count(mesh: LabMesh) -> None:
    traffic.solve_kept(mesh, "count")
