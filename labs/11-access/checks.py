"""Lab 11's checks: the catalog's access book (consumers, requests) and the access log, for the
consumer the learner created after the lab started."""

from __future__ import annotations

from typing import Any

from mesh_client import ClientError, MeshConsumer
from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
PRODUCT = "subscriptions.customers"
PRODUCT_ID = "urn:mesh:subscriptions:customers:v1"


@lab.setup
def note_consumers(mesh: LabMesh) -> None:
    mesh.baseline["consumers"] = [c["id"] for c in mesh.catalog("/access/consumers")]


def _newcomer(mesh: LabMesh) -> str | None:
    """The consumer created since the lab started (the newest, if several)."""
    known = set(mesh.baseline["consumers"])
    new = [c["id"] for c in mesh.catalog("/access/consumers") if c["id"] not in known]
    return new[-1] if new else None


def _requests(mesh: LabMesh, consumer: str) -> list[dict[str, Any]]:
    asked: list[dict[str, Any]] = mesh.catalog("/access/requests", consumer=consumer)
    return [r for r in asked if r["product"] == PRODUCT_ID and r["pii"]]


def _key(mesh: LabMesh) -> MeshConsumer:
    """The new consumer's key, as a solve knows it: its own, or a new one if the learner made it (the
    learner's key stays valid for a day: a rotation with a grace period)."""
    if "key" not in mesh.baseline:
        from mesh_access.platform_token import platform_token

        consumer = _newcomer(mesh)
        assert consumer is not None, "no consumer was created since the lab started"
        rotated = mesh.catalog_post(
            f"/access/consumers/{consumer}/keys", {"grace_seconds": 86400}, platform_token(mesh.settings)
        )
        mesh.baseline["key"] = rotated["api_key"]
    return MeshConsumer(mesh.settings, mesh.baseline["key"])


def _events(mesh: LabMesh, outcome: str) -> list[dict[str, Any]]:
    consumer = _newcomer(mesh)
    if consumer is None:
        return []
    return [e for e in mesh.accesses(product=PRODUCT_ID, consumer=consumer) if e["outcome"] == outcome]


@lab.check("identity")
def has_identity(mesh: LabMesh) -> Outcome:
    consumer = _newcomer(mesh)
    return passed(f"consumer {consumer} exists") if consumer else failed("no consumer created since the lab started")


@lab.solve("identity")
def create_identity(mesh: LabMesh) -> None:
    made = mesh.create_consumer(f"churn-analytics-{len(mesh.baseline['consumers'])}", "Marketing analytics")
    mesh.baseline["key"] = made.key


@lab.check("refused")
def was_refused(mesh: LabMesh) -> Outcome:
    denied = _events(mesh, "denied")
    if denied:
        return passed(f"refused on {', '.join(sorted({e['port'] for e in denied}))}: {denied[0].get('reason', '')}")
    return failed(f"no refused read of {PRODUCT} by your new consumer since the lab started")


@lab.solve("refused")
def be_refused(mesh: LabMesh) -> None:
    try:
        _key(mesh).rest(PRODUCT, "/customers/42")
    except ClientError:
        return
    raise AssertionError("the read without a grant was not refused")


@lab.check("request")
def requested(mesh: LabMesh) -> Outcome:
    consumer = _newcomer(mesh)
    asked = _requests(mesh, consumer) if consumer else []
    if asked:
        return passed(f"{asked[-1]['id']}: {consumer} asked for {PRODUCT} with PII ({asked[-1]['status']})")
    return failed(f"no request for {PRODUCT} with PII by your new consumer")


@lab.solve("request")
def ask(mesh: LabMesh) -> None:
    _key(mesh).request_access(PRODUCT, "churn analysis", pii=True)


@lab.check("approve")
def approved(mesh: LabMesh) -> Outcome:
    consumer = _newcomer(mesh)
    granted = [r for r in (_requests(mesh, consumer) if consumer else []) if r["status"] in ("approved", "revoked")]
    if granted:
        return passed(f"{granted[-1]['id']} approved by {granted[-1]['decided_by']}")
    return failed("the request is not approved (yet)")


@lab.solve("approve")
def approve(mesh: LabMesh) -> None:
    consumer = _newcomer(mesh)
    assert consumer is not None
    pending = [r for r in _requests(mesh, consumer) if r["status"] == "pending"]
    mesh.owner_of(PRODUCT_ID).decide(pending[-1]["id"], approve=True, note="lab 11")


@lab.check("unmasked")
def read_unmasked(mesh: LabMesh) -> Outcome:
    ports = {e["port"] for e in _events(mesh, "read") if e.get("pii")}
    missing = [p for p in ("rest", "graphql", "sql") if p not in ports]
    if missing:
        return failed(f"no read with PII by your new consumer over {', '.join(missing)}")
    return passed("read with PII over REST, GraphQL and SQL")


@lab.solve("unmasked")
def read_everywhere(mesh: LabMesh) -> None:
    me = _key(mesh)
    me.rest(PRODUCT, "/customers/42")
    me.graphql(PRODUCT, '{ customersByKey(key: "42") { email fullName } }')
    me.sql(PRODUCT, "SELECT email FROM subscriptions.customers_customers_v1 WHERE customer_id = 42")


@lab.check("revoke")
def revoked(mesh: LabMesh) -> Outcome:
    consumer = _newcomer(mesh)
    gone = [r for r in (_requests(mesh, consumer) if consumer else []) if r["status"] == "revoked"]
    if not gone:
        return failed("the grant is not revoked")
    after = [e for e in _events(mesh, "denied") if e["at"] > gone[-1]["decided_at"]]
    if not after:
        return failed(f"{gone[-1]['id']} is revoked; now read again with your key, and be refused")
    return passed(f"{gone[-1]['id']} revoked; the next read was refused ({after[0]['port']})")


@lab.solve("revoke")
def revoke(mesh: LabMesh) -> None:
    consumer = _newcomer(mesh)
    assert consumer is not None
    for grant in [r for r in _requests(mesh, consumer) if r["status"] == "approved"]:
        mesh.owner_of(PRODUCT_ID).revoke(grant["id"], note="lab 11: the study is over")

    def refused() -> bool:
        try:
            _key(mesh).rest(PRODUCT, "/customers/42")
        except ClientError:
            return True
        return False

    mesh.wait_for(refused, "the revocation reaching the product", 30)
