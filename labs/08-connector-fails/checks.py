"""Lab 08's checks: the Connect worker's process since the lab started, the monolith's changes made
while it was away (by their timestamps in the monolith's database), and the product compared with the
monolith, customer by customer."""

from __future__ import annotations

from datetime import datetime

from mesh_chaos import evidence
from mesh_labs import Lab, LabMesh, Outcome, failed, passed, traffic

lab = Lab()
WORKER = "connect"


@lab.setup
def note_the_worker(mesh: LabMesh) -> None:
    mesh.mark_process(WORKER)
    mesh.wait_for(lambda: evidence.customers_compared(mesh.settings).same, "the product matching the monolith", 120)


@lab.reset
def worker_back(mesh: LabMesh) -> None:
    from mesh_stack import Stack

    traffic.wait_sent(mesh)
    Stack(mesh.settings).up()


def _changed_while_down(mesh: LabMesh) -> int | None:
    """How many customers the monolith changed while the worker was away (None: it never went away)."""
    worker = mesh.since_mark(WORKER)
    if not worker.replaced:
        return None
    began = worker.stopped_at() or datetime.fromisoformat(mesh.progress.started_at or "1970-01-01T00:00:00+00:00")
    ended = worker.restarted_at() if worker.pid_now else None
    rows = mesh.sql_in(
        mesh.settings.legacy_db,
        "SELECT count(*) FROM customers WHERE updated_at >= %s AND (%s::timestamptz IS NULL OR updated_at < %s)",
        began,
        ended,
        ended,
    )
    return int(rows[0][0])


@lab.check("kill-connector")
def worker_gone(mesh: LabMesh) -> Outcome:
    worker = mesh.since_mark(WORKER)
    if not worker.replaced:
        return failed(f"the Connect worker runs as when the lab started (pid {worker.pid_then})")
    return passed(f"the Connect worker (pid {worker.pid_then}) went away")


@lab.solve("kill-connector")
def kill_worker(mesh: LabMesh) -> None:
    mesh.kill(WORKER)


@lab.check("change-while-down")
def changed_while_down(mesh: LabMesh) -> Outcome:
    changed = _changed_while_down(mesh)
    if changed is None:
        return failed("the Connect worker has not gone away yet")
    if not changed:
        return failed("no customer changed in the monolith while the worker was away")
    return passed(f"{changed} customers changed in the monolith while the worker was away")


@lab.solve("change-while-down")
def business_goes_on(mesh: LabMesh) -> None:
    traffic.generate(mesh, "legacy", "--rate", "20", "--duration", "10")


@lab.check("bring-back")
def nothing_lost(mesh: LabMesh) -> Outcome:
    worker = mesh.since_mark(WORKER)
    if not worker.replaced:
        return failed("the Connect worker has not gone away yet")
    if worker.pid_now is None:
        return failed("the Connect worker is still down: start it again")
    if not _changed_while_down(mesh):
        return failed("no customer changed while the worker was away: nothing was at stake")
    compared = evidence.customers_compared(mesh.settings)
    if not compared.same:
        return failed(f"{compared}: the product has not caught up yet (wait), or lost a change")
    return passed(f"the worker is back and the product holds every customer as the monolith has them ({compared})")


@lab.solve("bring-back")
def start_worker(mesh: LabMesh) -> None:
    from mesh_stack import Stack

    Stack(mesh.settings).up()
    mesh.wait_for(lambda: nothing_lost(mesh).passed, "the product matching the monolith", 180, pause_s=3)
