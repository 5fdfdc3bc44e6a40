"""Lab 19's checks: the migration's phase and share (the service's own tables), subscriptions.subscriptions
against what each owner has (mesh_chaos.evidence, independent of the product's code), the changes the
service made in the product's history, and the catalog's lineage."""

from __future__ import annotations

from mesh_chaos import evidence
from mesh_labs import Lab, LabMesh, Outcome, failed, passed
from mesh_labs.traffic import generate
from mesh_sources.strangler import Migration, MigrationStatus

lab = Lab()
PRODUCT = "subscriptions.subscriptions"
PRODUCT_ID = "urn:mesh:subscriptions:subscriptions:v1"
CHANGES = "subscriptions.subscriptions_changes_v1"
SERVICE_SOURCE, MONOLITH_SOURCE = "cdc:subscriptions.outbox.subscription", "cdc:legacy.public.subscriptions"
HANDED_OVER = 1 << 48  # positions of changes made after a subscription changed hands


def _status(mesh: LabMesh) -> MigrationStatus:
    with Migration(mesh.settings) as migration:
        return migration.status()


@lab.setup
def nothing_has_moved(mesh: LabMesh) -> None:
    with Migration(mesh.settings) as migration:
        migration.abandon()
    mesh.baseline["moved"] = 0
    mesh.baseline["moved"] = _service_changes(mesh)  # an earlier run's, in the product's history


@lab.reset
def move_everyone_back(mesh: LabMesh) -> None:
    with Migration(mesh.settings) as migration:
        migration.abandon()


# --- predict -----------------------------------------------------------------------------------------


@lab.check("predict")
def predicted(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("predict").lower().strip(" .!")
    if answer in ("nothing", "none", "no change", "nothing changes", "no changes"):
        return passed("nothing: the product keeps its rows, its stream and its contract while its input moves")
    return failed(f"{answer!r}: keep that in mind, and look again at what a move does to a subscription")


@lab.solve("predict")
def predict(mesh: LabMesh) -> None:
    mesh.give_answer("predict", "nothing")


# --- start ---------------------------------------------------------------------------------------------


@lab.check("start")
def facade_in_front(mesh: LabMesh) -> Outcome:
    status = _status(mesh)
    if status.phase in ("running", "rolled back"):
        return passed(f"the migration is {status.phase}: writes go through the routing facade")
    return failed(f"the migration is {status.phase!r}: start it (mesh migrate subscriptions start)")


@lab.solve("start")
def start_and_keep_the_business_going(mesh: LabMesh) -> None:
    with Migration(mesh.settings) as migration:
        migration.start()
    generate(mesh, "legacy", "--rate", "10", "--count", "900", background=True)


# --- move ----------------------------------------------------------------------------------------------


def _service_changes(mesh: LabMesh) -> int:
    """Changes made after a handover that the product has kept since the lab started."""
    kept = sum(1 for r in mesh.iceberg_rows(CHANGES) if int(r["position"]) >= HANDED_OVER)
    return kept - int(mesh.baseline["moved"])


def _served_as_owned(mesh: LabMesh) -> str | None:
    """What is wrong with the product against what each owner has (None: nothing)."""
    compared = evidence.subscriptions_compared(mesh.settings)
    return None if compared.same else f"{compared} (the product may still be catching up: check again)"


@lab.check("move")
def half_moved(mesh: LabMesh) -> Outcome:
    status = _status(mesh)
    if status.ever_moved < 50:
        return failed(f"{status.ever_moved} % of customers have moved to the service so far; step to 50")
    wrong = _served_as_owned(mesh)
    if wrong:
        return failed(wrong)
    made = _service_changes(mesh)
    if made <= 0:
        return failed("no change of a moved subscription has reached the product yet: keep the business going")
    return passed(f"{status.ever_moved} % moved at the most; {made} changes made after a handover reached the product")


@lab.solve("move")
def move_half(mesh: LabMesh) -> None:
    with Migration(mesh.settings) as migration:
        migration.step(10)
        migration.step(50)
    mesh.wait_for(lambda: _service_changes(mesh) > 0, "a change of a moved subscription in the product", 180)
    mesh.wait_for(lambda: _served_as_owned(mesh) is None, "the product catching up", 180)


# --- lineage -------------------------------------------------------------------------------------------


def _upstream(mesh: LabMesh) -> set[str]:
    graph = mesh.catalog("/lineage")
    return {e["source"] for e in graph["edges"] if e["target"] == PRODUCT_ID}


@lab.check("lineage")
def found_the_new_source(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("lineage").lower().removeprefix("cdc:").removeprefix("cdc.")
    upstream = _upstream(mesh)
    if answer not in ("subscriptions.outbox.subscription", "subscriptions service", "the subscriptions service"):
        return failed(f"{answer!r} is not the new source; the lineage lists {sorted(upstream)}")
    if upstream != {SERVICE_SOURCE, MONOLITH_SOURCE}:
        return failed(f"the product's lineage shows {sorted(upstream)}, not both systems")
    return passed("the service's outbox, beside the monolith's table, until the migration finishes")


@lab.solve("lineage")
def name_it(mesh: LabMesh) -> None:
    mesh.give_answer("lineage", "subscriptions.outbox.subscription")


# --- rollback ------------------------------------------------------------------------------------------


@lab.check("rollback")
def everyone_back(mesh: LabMesh) -> Outcome:
    status = _status(mesh)
    if status.phase != "rolled back" or status.percent:
        return failed(f"{status.percent} % of customers are on the service ({status.phase})")
    return failed(wrong) if (wrong := _served_as_owned(mesh)) else passed("every subscription is the monolith's again")


@lab.solve("rollback")
def roll_back(mesh: LabMesh) -> None:
    with Migration(mesh.settings) as migration:
        migration.rollback()
    mesh.wait_for(lambda: _served_as_owned(mesh) is None, "the product catching up", 180)
