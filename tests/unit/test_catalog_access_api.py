"""The catalog's access API and the portal's access page, on an in-memory catalog: who may do what."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from mesh_access import AccessService
from mesh_catalog.api import build_app
from mesh_catalog.service import CatalogService
from tests.unit.test_access import Control
from tests.unit.test_catalog_column_lineage import Documents, MemoryStore, _products

TOKEN = "platform-secret"


def catalog_with_access(documents: Documents | None = None) -> tuple[CatalogService, AccessService]:
    """An in-memory catalog with the seven real products registered, and its access service."""
    service = CatalogService(documents or Documents(), MemoryStore())
    for name in _products():
        service.register_url(f"http://{name}")

    def owners(product: str) -> tuple[str, str]:
        for entry in service.entries():
            if product in (entry.id, f"{entry.domain}.{entry.name}") and entry.owner is not None:
                return entry.id, entry.owner.team
        raise LookupError(product)

    access = AccessService(MemoryStore(), Control(), owners, clock=lambda: datetime(2026, 12, 2, tzinfo=UTC))
    return service, access


@pytest.fixture
def api() -> TestClient:
    service, access = catalog_with_access()
    return TestClient(build_app(service, access=access, platform_token=TOKEN))


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _consumer(api: TestClient, consumer: str, team: str) -> str:
    made = api.post("/access/consumers", json={"id": consumer, "team": team}, headers=_auth(TOKEN))
    assert made.status_code == 201, made.text
    key: str = made.json()["api_key"]
    return key


def test_identities_need_the_platform_token(api: TestClient) -> None:
    assert api.post("/access/consumers", json={"id": "x1", "team": "t"}).status_code == 401
    assert api.post("/access/consumers", json={"id": "x1", "team": "t"}, headers=_auth("guess")).status_code == 401
    key = _consumer(api, "analyst", "Marketing")
    assert api.post("/access/consumers", json={"id": "x2", "team": "t"}, headers=_auth(key)).status_code == 401
    assert api.post("/access/consumers", json={"id": "analyst", "team": "t"}, headers=_auth(TOKEN)).status_code == 409
    bad = api.post("/access/consumers", json={"id": "../../etc", "team": "t"}, headers=_auth(TOKEN))
    assert bad.status_code == 400 and bad.json()["field"] == "id"
    listed = api.get("/access/consumers").json()
    assert listed[0]["id"] == "analyst" and "hash" not in listed[0]["keys"][0]
    assert key not in api.get("/access/consumers").text


def test_a_request_is_decided_by_the_owning_team_only(api: TestClient) -> None:
    product = api.get("/products").json()[0]
    analyst = _consumer(api, "analyst", "Marketing")
    owner = _consumer(api, "owner", product["owner"]["team"])
    asked = api.post(
        "/access/requests", json={"product": product["id"], "purpose": "churn", "pii": True}, headers=_auth(analyst)
    )
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    assert api.post(f"/access/requests/{request_id}/approve", json={}, headers=_auth(analyst)).status_code == 403
    assert api.post(f"/access/requests/{request_id}/approve", json={}).status_code == 401
    approved = api.post(f"/access/requests/{request_id}/approve", json={"note": "ok"}, headers=_auth(owner))
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == "owner"
    assert api.post(f"/access/requests/{request_id}/approve", json={}, headers=_auth(owner)).status_code == 409
    assert [g["id"] for g in api.get("/access/grants").json()] == [request_id]
    assert api.get("/access/whoami", headers=_auth(analyst)).json()["grants"][0]["pii"] is True
    unknown = api.post("/access/requests", json={"product": "../../etc/passwd", "purpose": "x"}, headers=_auth(analyst))
    assert unknown.status_code == 404 and unknown.json()["field"] == "product"
    page = api.get("/portal/access").text
    assert request_id in page and "analyst" in page and "granted" in page


def test_keys_rotate_and_revoke(api: TestClient) -> None:
    first = _consumer(api, "analyst", "Marketing")
    other = _consumer(api, "other", "Marketing")
    assert api.post("/access/consumers/analyst/keys", json={}, headers=_auth(other)).status_code == 403
    rotated = api.post("/access/consumers/analyst/keys", json={"grace_seconds": 0}, headers=_auth(first))
    assert rotated.status_code == 201
    assert api.get("/access/whoami", headers=_auth(first)).status_code == 401, "replaced at once without grace"
    second = rotated.json()["api_key"]
    key_id = second.split("_")[1]
    assert api.delete(f"/access/keys/{key_id}", headers=_auth(other)).status_code == 403
    assert api.delete(f"/access/keys/{key_id}", headers=_auth(TOKEN)).json()["state"] == "revoked"
    assert "revoked" in api.get("/access/whoami", headers=_auth(second)).json()["error"]
    assert (
        api.post("/access/consumers/analyst/keys", json={"grace_seconds": -1}, headers=_auth(TOKEN)).status_code == 400
    )
