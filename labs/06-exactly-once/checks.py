"""Lab 06's checks: what became of the product's process since the lab started (replaced, not stopped
cleanly, running again and caught up), and the lab's own accounting of every message sent."""

from __future__ import annotations

from mesh_labs import Lab, LabMesh, Outcome, failed, passed, traffic

lab = Lab()
PRODUCT = traffic.PRODUCT


@lab.setup
def note_the_process(mesh: LabMesh) -> None:
    traffic.mark(mesh)
    mesh.mark_process(PRODUCT)


@lab.check("kill")
def killed(mesh: LabMesh) -> Outcome:
    process = mesh.since_mark(PRODUCT)
    if not process.replaced:
        return failed(f"the product runs as when the lab started (pid {process.pid_then})")
    if process.stopped_by_mesh:
        return failed("the product was stopped cleanly (mesh stop or restart): kill -9 it instead, reset to try again")
    if not mesh.since(traffic.INPUT):
        return failed("the product died, but no traffic was flowing: send some while you kill it")
    return passed(f"pid {process.pid_then} died without a chance to finish its batch")


@lab.solve("kill")
def kill_under_traffic(mesh: LabMesh) -> None:
    traffic.send(mesh, "--rate", "200", "--duration", "15", background=True)
    mesh.wait_for(lambda: len(mesh.since(traffic.INPUT)) >= 300, "the traffic flowing", 60, pause_s=0.5)
    mesh.kill(PRODUCT)


@lab.check("recover")
def recovered(mesh: LabMesh) -> Outcome:
    process = mesh.since_mark(PRODUCT)
    if not process.replaced:
        return failed("the product has not been killed yet")
    if process.pid_now is None:
        return failed("the product is down: start it again")
    behind = traffic.lag(mesh)
    if behind:
        return failed(f"the product runs again (pid {process.pid_now}), {behind} messages behind: wait")
    return passed(f"the product runs again (pid {process.pid_now}) and has caught up")


@lab.solve("recover")
def restart(mesh: LabMesh) -> None:
    from mesh_stack.assembly import ensure_products

    ensure_products(mesh.settings, [PRODUCT])
    traffic.wait_sent(mesh)
    traffic.wait_caught_up(mesh)


@lab.check("count")
def counted(mesh: LabMesh) -> Outcome:
    return traffic.check_kept(mesh, "count")


@lab.solve("count")
def count(mesh: LabMesh) -> None:
    traffic.solve_kept(mesh, "count")
