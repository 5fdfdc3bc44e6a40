"""Lab 02's checks: the setup moves customer 42 to another country in the monolith and notes the
snapshots before and after; the answers are checked against the product's own table as of them."""

from __future__ import annotations

from typing import Any

from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
PRODUCT = "subscriptions.customers"
PRODUCT_ID = "urn:mesh:subscriptions:customers:v1"
TABLE = "subscriptions.customers_customers_v1"
CUSTOMER = 42
COUNTRIES = ("NL", "DE", "FR", "BE", "SE", "ES", "IT")


def _country(mesh: LabMesh, snapshot: int | None = None) -> str | None:
    rows = [r for r in mesh.iceberg_rows(TABLE, snapshot) if r["customer_id"] == CUSTOMER]
    return str(rows[0]["country"]).strip() if rows else None


def _in_monolith(mesh: LabMesh) -> str:
    rows = mesh.sql_in(mesh.settings.legacy_db, "SELECT country FROM customers WHERE customer_id = %s", CUSTOMER)
    return str(rows[0][0]).strip()


def _move(mesh: LabMesh, country: str) -> None:
    mesh.sql_in(
        mesh.settings.legacy_db,
        "UPDATE customers SET country = %s, updated_at = now() WHERE customer_id = %s",
        country,
        CUSTOMER,
    )
    mesh.wait_for(lambda: _country(mesh) == country, f"customer {CUSTOMER} in {country} reaching {PRODUCT}", 90)


@lab.setup
def move_customer(mesh: LabMesh) -> None:
    """Customer 42 moves; the product's snapshot before the move and the old country are noted."""
    mesh.wait_for(lambda: _country(mesh) is not None, f"customer {CUSTOMER} in {PRODUCT} (the initial capture)", 120)
    old = _country(mesh)
    assert old is not None
    new = next(c for c in COUNTRIES if c != old)
    mesh.baseline.update(old=old, new=new, original=mesh.baseline.get("original", old))
    _move(mesh, new)
    mesh.baseline["current_snapshot"] = mesh.snapshot_ids(TABLE)[-1]


@lab.reset
def move_back(mesh: LabMesh) -> None:
    """The customer's country as it was when the lab was first started, so resets do not drift."""
    original = mesh.baseline.get("original")
    if original and _in_monolith(mesh) != original:
        _move(mesh, original)


@lab.check("snapshot")
def snapshot_found(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("snapshot")
    if not answer.isdigit() or int(answer) not in mesh.snapshot_ids(TABLE):
        return failed(f"{answer!r} is not a snapshot of {TABLE}")
    then = _country(mesh, int(answer))
    if then != mesh.baseline["old"]:
        return failed(f"as of snapshot {answer}, customer {CUSTOMER} is in {then}: that is after the move")
    return passed(f"as of snapshot {answer}, customer {CUSTOMER} was still in {then}")


def _before_the_move(mesh: LabMesh) -> int:
    ids = mesh.snapshot_ids(TABLE)
    return next(s for s in reversed(ids) if _country(mesh, s) == mesh.baseline["old"])


@lab.solve("snapshot")
def find_snapshot(mesh: LabMesh) -> None:
    snapshots: list[dict[str, Any]] = mesh.describe(PRODUCT, "/snapshots")
    mesh.give_answer("snapshot", snapshots[-2]["snapshot_id"] if len(snapshots) > 1 else _before_the_move(mesh))


@lab.check("before")
def old_value(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("before")
    if answer.strip().upper() == mesh.baseline["old"]:
        return passed(f"customer {CUSTOMER} was in {answer.upper()} before moving to {mesh.baseline['new']}")
    if answer.strip().upper() == mesh.baseline["new"]:
        return failed(f"{answer} is where customer {CUSTOMER} lives now, not before")
    return failed(f"customer {CUSTOMER} was never in {answer!r} while this lab ran")


@lab.solve("before")
def read_before(mesh: LabMesh) -> None:
    snapshot = mesh.given("snapshot") or str(_before_the_move(mesh))
    row = mesh.learner.rest(PRODUCT, f"/customers/{CUSTOMER}", as_of=snapshot)
    mesh.give_answer("before", str(row["country"]).strip())


@lab.check("every-port")
def asked_everywhere(mesh: LabMesh) -> Outcome:
    return mesh.learner_read(PRODUCT_ID, ("rest", "graphql", "sql"))


@lab.solve("every-port")
def ask_everywhere(mesh: LabMesh) -> None:
    snapshot = mesh.given("snapshot") or str(_before_the_move(mesh))
    mesh.learner.rest(PRODUCT, f"/customers/{CUSTOMER}", as_of=snapshot)
    mesh.learner.graphql(PRODUCT, f'{{ customersByKey(key: "{CUSTOMER}", asOf: "{snapshot}") {{ country }} }}')
    mesh.learner.sql(PRODUCT, f"SELECT country FROM {TABLE}_at_{snapshot} WHERE customer_id = {CUSTOMER}")
