"""`mesh demo`'s consumers: an analyst granted every product without PII, through the real path (its
requests approved by an identity of each owning team), so the tour's commands work with one key. The
labs' learner is this analyst. Keys are kept across reruns: a key exported in a learner's shell must not
stop working because the demo ran again."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx

from mesh_access.platform_token import platform_token
from mesh_config import MeshSettings

ANALYST = "demo-analyst"
PURPOSE = "mesh demo: learning the data mesh"


def key_path(settings: MeshSettings) -> Path:
    return settings.home / "access" / f"{ANALYST}.key"


def _slug(team: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", team.lower()).strip("-")[:50] + "-owner"


def _keep(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(key)


def _still_valid(api: httpx.Client, path: Path) -> str | None:
    """The key kept at `path`, if the catalog still takes it and it logs in to the SQL ports."""
    if not path.exists():
        return None
    key = path.read_text().strip()
    known = api.get("/access/whoami", headers={"Authorization": f"Bearer {key}"})
    if known.status_code != 200:
        return None
    return key if (known.json().get("key") or {}).get("sql_login") else None


def _identity(api: httpx.Client, settings: MeshSettings, consumer: str, team: str, *, rotate: bool = False) -> str:
    """The key of a consumer kept under the state directory, issued when there is none that still works."""
    kept = settings.home / "access" / f"{consumer}.key"
    if not rotate and (valid := _still_valid(api, kept)) is not None:
        return valid
    token = {"Authorization": f"Bearer {platform_token(settings)}"}
    made = api.post("/access/consumers", json={"id": consumer, "team": team}, headers=token)
    if made.status_code == 409:  # from an earlier demo: a fresh key instead
        made = api.post(f"/access/consumers/{consumer}/keys", json={}, headers=token)
    made.raise_for_status()
    key: str = made.json()["api_key"]
    _keep(kept, key)
    return key


def owner_key(settings: MeshSettings, team: str) -> str:
    """The key of an identity of a product's owning team, kept beside the analyst's (for the labs)."""
    with httpx.Client(base_url=settings.product_catalog_endpoint, timeout=30) as api:
        return _identity(api, settings, _slug(team), team)


def demo_access(settings: MeshSettings, *, rotate: bool = False) -> str:
    """The demo analyst's key (issued; kept from an earlier demo while it is valid, unless `rotate`),
    with a grant on every registered product; owners' keys are kept beside it for the labs."""
    with httpx.Client(base_url=settings.product_catalog_endpoint, timeout=30) as api:
        analyst = _identity(api, settings, ANALYST, "Learners", rotate=rotate)
        granted = {g["product"] for g in api.get("/access/grants", params={"consumer": ANALYST}).json()}
        owners: dict[str, str] = {}
        products: list[dict[str, Any]] = api.get("/products").json()
        for product in products:
            team = (product.get("owner") or {}).get("team")
            if not team or product["id"] in granted:
                continue
            if team not in owners:
                owners[team] = _identity(api, settings, _slug(team), team, rotate=rotate)
            asked = api.post(
                "/access/requests",
                json={"product": product["id"], "purpose": PURPOSE, "pii": False},
                headers={"Authorization": f"Bearer {analyst}"},
            )
            if asked.status_code == 201:
                api.post(
                    f"/access/requests/{asked.json()['id']}/approve",
                    json={"note": "granted by mesh demo"},
                    headers={"Authorization": f"Bearer {owners[team]}"},
                ).raise_for_status()
    return analyst
