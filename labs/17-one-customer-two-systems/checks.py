"""Lab 17's checks: the learner's own records in the monolith and the CRM (the rows added since the lab
started), customer-360's tables (cross-reference, golden records, decisions), and the catalog's access
book for the steward's grant."""

from __future__ import annotations

import json
from typing import Any

from mesh_client.stewardship import PRODUCT, Steward
from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
PRODUCT_ID = "urn:mesh:customers:customer-360:v1"
TEAM = "Customer data team"
XREF, GOLDEN = "customers.customer_360_xref_v1", "customers.customer_360_golden_v1"
DECISIONS = "customers.customer_360_decisions_v1"


@lab.setup
def note_where_things_stand(mesh: LabMesh) -> None:
    from mesh_client.analyst import owner_key

    owner_key(mesh.settings, TEAM)  # the learner plays the team that approves a steward
    s = mesh.settings
    mesh.baseline["customer"] = mesh.sql_in(s.legacy_db, "SELECT coalesce(max(customer_id), 0) FROM customers")[0][0]
    mesh.baseline["contact"] = mesh.sql_in(s.crm_db, "SELECT coalesce(max(contact_id), 0) FROM contacts")[0][0]
    mesh.baseline["decision"] = max((d["decision"] for d in _rows(mesh, DECISIONS)), default=0)


@lab.reset
def revoke_the_stewards_grant(mesh: LabMesh) -> None:
    for request in _stewards_requests(mesh):
        if request["status"] == "approved":
            mesh.owner_of(PRODUCT_ID).revoke(request["id"], note="lab 17 reset")


def _rows(mesh: LabMesh, table: str) -> list[dict[str, Any]]:
    try:
        return mesh.iceberg_rows(table)
    except Exception:  # the product has not written its first refresh yet
        return []


def _mine(mesh: LabMesh) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The learner's customer and CRM contact: the newest rows added to each system since the lab began."""
    s = mesh.settings
    customer = mesh.sql_in(
        s.legacy_db,
        "SELECT customer_id, full_name, phone FROM customers WHERE customer_id > %s ORDER BY customer_id DESC LIMIT 1",
        mesh.baseline["customer"],
    )
    contact = mesh.sql_in(
        s.crm_db,
        "SELECT contact_id, first_name, last_name, phone, created_at, updated_at FROM contacts "
        "WHERE contact_id > %s ORDER BY contact_id DESC LIMIT 1",
        mesh.baseline["contact"],
    )
    mine_customer = dict(zip(("id", "full_name", "phone"), customer[0], strict=True)) if customer else None
    keys = ("id", "first_name", "last_name", "phone", "created_at", "updated_at")
    mine_contact = dict(zip(keys, contact[0], strict=True)) if contact else None
    return mine_customer, mine_contact


def _stewards_requests(mesh: LabMesh) -> list[dict[str, Any]]:
    asked: list[dict[str, Any]] = mesh.catalog("/access/requests", consumer=mesh.learner_id)
    return [r for r in asked if r["product"] == PRODUCT_ID and r["pii"]]


# --- two-records -------------------------------------------------------------------------------------


@lab.check("two-records")
def in_both_systems(mesh: LabMesh) -> Outcome:
    customer, contact = _mine(mesh)
    if customer is None:
        return failed("no customer signed up in the monolith since the lab started")
    if contact is None:
        return failed(f"customer {customer['id']} is in the monolith; no contact was created in the CRM since")
    return passed(f"customer {customer['id']} ({customer['full_name']}) and CRM contact {contact['id']}")


@lab.solve("two-records")
def sign_up_and_call(mesh: LabMesh) -> None:
    s = mesh.settings
    mesh.sql_in(
        s.legacy_db,
        "INSERT INTO customers (customer_id, email, full_name, phone, country, birth_year) VALUES "
        "(nextval('customers_customer_id_seq'), 'ada.lovelace.17@example.org', 'Ada Lovelace', '+447700900123', "
        "'GB', 1985)",
    )
    mesh.sql_in(
        s.crm_db,
        "INSERT INTO contacts (contact_id, first_name, last_name, email, phone, country, birth_date) VALUES "
        "(nextval('crm_contact_ids'), 'ADA', 'Lovelace', 'Ada.Lovelace.17+tv@example.org', '07700 900123', 'gb', "
        "'1985-12-10')",
    )


# --- steward -----------------------------------------------------------------------------------------


@lab.check("steward")
def is_a_steward(mesh: LabMesh) -> Outcome:
    approved = [r for r in _stewards_requests(mesh) if r["status"] == "approved"]
    if approved:
        return passed(f"{approved[-1]['id']}: {mesh.learner_id} reads {PRODUCT} with PII, approved by "
                      f"{approved[-1]['decided_by']}")  # fmt: skip
    pending = [r for r in _stewards_requests(mesh) if r["status"] == "pending"]
    if pending:
        return failed(f"{pending[-1]['id']} waits for the customer data team's approval")
    return failed(f"{mesh.learner_id} has no grant with PII on {PRODUCT}")


@lab.solve("steward")
def ask_and_approve(mesh: LabMesh) -> None:
    asked = mesh.learner.request_access(PRODUCT, "data stewardship", pii=True)
    mesh.owner_of(PRODUCT_ID).decide(asked["id"], approve=True, note="lab 17")


# --- golden ------------------------------------------------------------------------------------------


def _xref(mesh: LabMesh) -> dict[str, dict[str, Any]]:
    return {f"{r['source']}:{r['source_id']}": r for r in _rows(mesh, XREF)}


@lab.check("golden")
def found_the_golden_record(mesh: LabMesh) -> Outcome:
    customer, contact = _mine(mesh)
    if customer is None or contact is None:
        return failed("first be a customer in both systems (step two-records)")
    answer = mesh.answer("golden")
    xref = _xref(mesh)
    mine = xref.get(f"subscriptions:{customer['id']}"), xref.get(f"crm:{contact['id']}")
    if mine[0] is None or mine[1] is None:
        return failed("customer-360 has not read both your records yet: look again in a few seconds")
    if mine[0]["golden_id"] != mine[1]["golden_id"]:
        c = mine[1]
        return failed(
            f"your two records are in different golden records: the contact is in band {c['band']} "
            f"(p={c['match_probability']}, {c['rule']}); as the steward, decide the pair"
        )
    if answer != mine[0]["golden_id"]:
        return failed(f"{answer} is not the golden record holding your records")
    return passed(f"{answer} holds subscriptions:{customer['id']} and crm:{contact['id']} ({mine[1]['rule']})")


@lab.solve("golden")
def find_it(mesh: LabMesh) -> None:
    customer, contact = _mine(mesh)
    assert customer is not None and contact is not None
    anchor, record = f"subscriptions:{customer['id']}", f"crm:{contact['id']}"

    def both() -> dict[str, dict[str, Any]] | None:
        x = _xref(mesh)
        return x if anchor in x and record in x else None

    xref = mesh.wait_for(both, "both your records in customer-360's cross-reference")
    if xref[anchor]["golden_id"] != xref[record]["golden_id"]:
        Steward(mesh.learner).decide("match", anchor, record, "it is me")
        xref = _xref(mesh)
    mesh.give_answer("golden", xref[anchor]["golden_id"])


# --- review ------------------------------------------------------------------------------------------


def _decisions_by_learner(mesh: LabMesh) -> list[dict[str, Any]]:
    customer, contact = _mine(mesh)
    own = {f"subscriptions:{customer['id']}" if customer else None, f"crm:{contact['id']}" if contact else None}
    return [
        d
        for d in _rows(mesh, DECISIONS)
        if d["decision"] > mesh.baseline["decision"] and d["steward"] == mesh.learner_id and d["record"] not in own
    ]


@lab.check("review")
def decided_a_pair(mesh: LabMesh) -> Outcome:
    decided = _decisions_by_learner(mesh)
    if not decided:
        return failed(f"no decision by {mesh.learner_id} on another pair since the lab started")
    d = decided[-1]
    now = _xref(mesh)
    together = now.get(d["anchor"], {}).get("golden_id") == now.get(d["record"], {}).get("golden_id")
    if together != (d["action"] == "match"):
        return failed(f"decision {d['decision']} ({d['action']} {d['anchor']} {d['record']}) is not applied yet")
    return passed(f"decision {d['decision']}: {d['action']} {d['anchor']} and {d['record']} ({d['reason']})")


@lab.solve("review")
def decide_one_on_the_portal(mesh: LabMesh) -> None:
    """As a steward on customer-360's page of the portal: sign in with the key, decide a pair there."""
    import httpx

    _, contact = _mine(mesh)
    own = {f"crm:{contact['id']}"} if contact else set()
    pair = next(p for p in Steward(mesh.learner).queue(10) if p["record"] not in own)
    page = f"{mesh.settings.product_catalog_endpoint}/portal/products/{PRODUCT_ID}/stewardship"
    with httpx.Client(timeout=300) as portal:
        portal.post(f"{page}/key", data={"key": mesh.learner.key})
        action = "match" if pair["p"] >= 0.75 else "split"
        reason = "compared on the portal by the lab's solve"
        form = {"action": action, "anchor": pair["anchor"], "record": pair["record"], "reason": reason}
        decided = portal.post(f"{page}/decide", data=form)
    if decided.status_code != 303 or "decided=" not in decided.headers.get("location", ""):
        said = decided.text[-500:]
        raise AssertionError(f"the portal did not take the decision (HTTP {decided.status_code}): {said}")


# --- survivorship ------------------------------------------------------------------------------------


@lab.check("survivorship")
def survivorship_picked(mesh: LabMesh) -> Outcome:
    customer, contact = _mine(mesh)
    if customer is None or contact is None:
        return failed("first be a customer in both systems (step two-records)")
    if (contact["updated_at"] - contact["created_at"]).total_seconds() < 1:
        return failed(f"CRM contact {contact['id']} has not been changed since it was created (set updated_at = now())")
    contact_name = f"{contact['first_name']} {contact['last_name']}"
    if contact_name.lower() == customer["full_name"].lower():
        return failed("the CRM's name for you is still the monolith's: let the agent mistype your last name")
    holding = _xref(mesh).get(f"crm:{contact['id']}")
    golden = {g["golden_id"]: g for g in _rows(mesh, GOLDEN)}.get(holding["golden_id"] if holding else "")
    if golden is None or holding is None or holding["phone"] != contact["phone"]:
        return failed("customer-360 has not read your contact's change yet: look again in a few seconds")
    where = json.loads(golden["provenance"])
    if golden["phone"] != contact["phone"] or golden["full_name"] != customer["full_name"]:
        return failed(f"your golden record is not in one group with both records: {golden['sources']}")
    return passed(
        f"phone {golden['phone']} from {where['phone']} (most recent), name {golden['full_name']} from "
        f"{where['full_name']} (source priority), not the CRM's {contact_name!r}"
    )


@lab.solve("survivorship")
def call_again(mesh: LabMesh) -> None:
    _, contact = _mine(mesh)
    assert contact is not None
    mesh.sql_in(
        mesh.settings.crm_db,
        "UPDATE contacts SET phone = '07700 900999', last_name = last_name || 'e', "
        "updated_at = now() + interval '1 second' WHERE contact_id = %s",
        contact["id"],
    )
    mesh.wait_for(lambda: survivorship_picked(mesh).passed, "the golden record after the CRM's change", timeout_s=90)
