"""Lab 03's checks: customer 7 in the monolith's database, in the product's table, in the learner's
reads (the access log), and in the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
PRODUCT = "subscriptions.customers"
PRODUCT_ID = "urn:mesh:subscriptions:customers:v1"
TABLE = "subscriptions.customers_customers_v1"
STREAM = "subscriptions.customers.stream-masked.v1"
CDC_TOPIC = "cdc.legacy.public.customers"
CUSTOMER = 7
COLUMNS = ("email", "full_name", "country", "birth_year", "marketing_opt_in")


def _in_monolith(mesh: LabMesh) -> dict[str, Any]:
    listed = ", ".join(COLUMNS)
    rows = mesh.sql_in(mesh.settings.legacy_db, f"SELECT {listed} FROM customers WHERE customer_id = %s", CUSTOMER)
    return {c: (v.strip() if isinstance(v, str) else v) for c, v in zip(COLUMNS, rows[0], strict=True)}


def _in_product(mesh: LabMesh) -> dict[str, Any] | None:
    rows = [r for r in mesh.iceberg_rows(TABLE) if r["customer_id"] == CUSTOMER]
    if not rows:
        return None
    return {c: (rows[0][c].strip() if isinstance(rows[0][c], str) else rows[0][c]) for c in COLUMNS}


@lab.setup
def note_customer(mesh: LabMesh) -> None:
    mesh.wait_for(lambda: _in_product(mesh) == _in_monolith(mesh), f"customer {CUSTOMER} captured", 120)
    mesh.baseline["row"] = _in_monolith(mesh)
    mesh.baseline.setdefault("original", mesh.baseline["row"])


@lab.reset
def restore_customer(mesh: LabMesh) -> None:
    original = mesh.baseline.get("original")
    if original and _in_monolith(mesh) != original:
        sets = ", ".join(f"{c} = %s" for c in COLUMNS)
        mesh.sql_in(
            mesh.settings.legacy_db,
            f"UPDATE customers SET {sets}, updated_at = now() WHERE customer_id = %s",
            *[original[c] for c in COLUMNS],
            CUSTOMER,
        )


@lab.check("change")
def changed(mesh: LabMesh) -> Outcome:
    now, before = _in_monolith(mesh), mesh.baseline["row"]
    differs = [c for c in COLUMNS if now[c] != before[c]]
    if differs:
        return passed(f"customer {CUSTOMER}'s {', '.join(differs)} changed in the monolith")
    return failed(f"customer {CUSTOMER} in the monolith is as it was when the lab started")


@lab.solve("change")
def change(mesh: LabMesh) -> None:
    mesh.sql_in(
        mesh.settings.legacy_db,
        "UPDATE customers SET marketing_opt_in = NOT marketing_opt_in, updated_at = now() WHERE customer_id = %s",
        CUSTOMER,
    )


@lab.check("product")
def in_product(mesh: LabMesh) -> Outcome:
    now, served = _in_monolith(mesh), _in_product(mesh)
    if now == mesh.baseline["row"]:
        return failed("nothing changed in the monolith yet")
    if served != now:
        return failed(f"the product does not show the change yet: {served} (the monolith: {now})")
    if not {"rest", "graphql", "sql"} & mesh.learner_ports(PRODUCT_ID):
        return failed("the product shows the change; now read customer 7 from it yourself")
    return passed(f"the product serves customer {CUSTOMER} as the monolith has it, and you read it")


@lab.solve("product")
def read_product(mesh: LabMesh) -> None:
    mesh.wait_for(lambda: _in_product(mesh) == _in_monolith(mesh), "the change reaching the product", 60)
    mesh.learner.rest(PRODUCT, f"/customers/{CUSTOMER}")


@lab.check("stream")
def read_stream(mesh: LabMesh) -> Outcome:
    return mesh.learner_read(PRODUCT_ID, ("kafka",))


@lab.solve("stream")
def consume(mesh: LabMesh) -> None:
    list(mesh.learner.consume(STREAM, limit=None, timeout_s=5))


def _newest_record(mesh: LabMesh) -> int | None:
    from mesh_adapters.lakehouse import iceberg_catalog
    from mesh_audit.log_table import AuditTable

    records = AuditTable.load(iceberg_catalog(mesh.settings)).records_of(str(CUSTOMER))
    started = datetime.fromisoformat(mesh.progress.started_at or "1970-01-01T00:00:00+00:00")
    ours = [r for r in records if r.source == CDC_TOPIC and r.recorded_at >= started]
    return max((r.sequence for r in ours), default=None)


@lab.check("audit")
def audited(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("audit")
    newest = _newest_record(mesh)
    if newest is None:
        return failed(f"the audit log holds no captured change of customer {CUSTOMER} since the lab started")
    if answer == str(newest):
        return passed(f"record {newest} is the monolith's change of customer {CUSTOMER}, linked into the chain")
    return failed(f"{answer!r} is not the newest change of customer {CUSTOMER} captured from the monolith")


@lab.solve("audit")
def find_record(mesh: LabMesh) -> None:
    newest = mesh.wait_for(lambda: _newest_record(mesh), "the change reaching the audit log", 60)
    mesh.give_answer("audit", newest)
