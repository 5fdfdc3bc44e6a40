"""The portal's stewardship desk for customer-360 (mesh_mdm.stewardship), wired the catalog's way: the
steward's key proves who they are (the catalog's access book), their queries go to the product's SQL
port with that key (so they are audited and masked like any read of theirs), and their decisions to
its control port with the token the platform keeps for it."""

from __future__ import annotations

from typing import Any

import httpx

from mesh_access.service import AccessService
from mesh_catalog.service import CatalogService
from mesh_config import MeshSettings
from mesh_mdm.stewardship import PRODUCT, StewardDesk, StewardshipRefused
from mesh_stack.products import ControlRefused, control_command, control_token


class CatalogStewards:
    def __init__(self, settings: MeshSettings, service: CatalogService, access: AccessService) -> None:
        self.settings = settings
        self.service = service
        self.access = access

    def __call__(self, key: str) -> StewardDesk:
        """The desk of the steward whose key this is (StewardshipRefused for a key that proves no one)."""
        try:
            steward = self.access.identify(key).id
        except Exception as exc:  # the access book's refusals (unknown, revoked, expired) all mean the same here
            raise StewardshipRefused(f"that key proves no one: {exc}") from None
        sql_url = self._ports().get("sql_http")
        if not sql_url:
            raise StewardshipRefused(f"{PRODUCT} is not registered with the catalog: is it running?")
        base = sql_url.removesuffix("/sql")

        def sql(query: str) -> tuple[list[str], list[list[Any]]]:
            try:
                answer = httpx.post(
                    sql_url, json={"sql": query}, headers={"Authorization": f"Bearer {key}"}, timeout=60
                )
            except httpx.HTTPError as exc:
                raise StewardshipRefused(f"{PRODUCT} does not answer ({exc})") from None
            if answer.status_code >= 400:
                raise StewardshipRefused(f"{PRODUCT} refused the query: {_detail(answer)}")
            body = answer.json()
            return list(body["columns"]), list(body["rows"])

        def command(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
            try:
                return control_command(base, control_token(self.settings, PRODUCT), name, arguments)
            except (FileNotFoundError, ControlRefused) as exc:
                raise StewardshipRefused(str(exc)) from None

        return StewardDesk(steward, sql, command)

    def _ports(self) -> dict[str, str]:
        for entry in self.service.entries():
            if f"{entry.domain}.{entry.name}" == PRODUCT:
                return dict(entry.document.get("ports") or {})
        return {}


def _detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text
    return str(body.get("detail") or body.get("error") or body) if isinstance(body, dict) else str(body)
