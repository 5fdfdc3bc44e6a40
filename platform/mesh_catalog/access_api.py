"""The access API of the catalog (a driving adapter over `mesh_access.AccessService`): consumer
identities and their keys, access requests and the owning teams' decisions, the grants in force.

Who may do what: the platform's token creates identities and may rotate or revoke any key; a consumer,
with its own API key, asks for access, rotates or revokes its own keys, and gives up its grants; a
member of the owning team approves, denies or revokes access to its products. Lists show no secrets
and are open, like the rest of the catalog."""

# No `from __future__ import annotations`: FastAPI must resolve the routes' Annotated dependencies,
# which name functions local to `mount_access`.
import hmac
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from mesh_access import AccessError, AccessRequest, AccessService, Consumer, Denied
from mesh_sdk.serve.http_errors import errors

GRACE_AT_MOST_S = 90 * 24 * 3600.0
_BEARER = HTTPBearer(auto_error=False, description="a consumer's API key, or the platform token")


class NewConsumer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="lower-case letters, digits and '-', e.g. churn-analytics")
    team: str = Field(description="the team it belongs to (a product's owners approve by team)")
    contact: str = ""


class Rotation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_seconds: float = Field(
        0, ge=0, le=GRACE_AT_MOST_S, description="how long the replaced keys keep working (at most 90 days)"
    )


class NewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product: str = Field(description="a product id, or its folder name (subscriptions.customers)")
    purpose: str = Field(description="what the data is for: the owners decide on it")
    pii: bool = Field(False, description="ask for personal data too (otherwise it is masked)")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = ""


def _request_json(r: AccessRequest) -> dict[str, Any]:
    data = asdict(r)
    for field in ("requested_at", "decided_at"):
        data[field] = data[field].isoformat() if data[field] is not None else None
    return data | {"status": str(r.status)}


def mount_access(app: FastAPI, access: AccessService, platform_token: str) -> None:
    router = APIRouter(prefix="/access", tags=["access"])

    @app.exception_handler(AccessError)
    async def _refused(_request: Request, exc: AccessError) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content={"error": exc.message, "field": exc.field})

    @app.exception_handler(Denied)
    async def _denied(_request: Request, exc: Denied) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="mesh"'} if exc.status == 401 else None
        return JSONResponse(status_code=exc.status, content={"error": exc.message}, headers=headers)

    def presented(bearer: HTTPAuthorizationCredentials | None) -> str | None:
        return bearer.credentials if bearer else None

    def is_platform(key: str | None) -> bool:
        return key is not None and hmac.compare_digest(key.encode(), platform_token.encode())

    def platform(bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> None:
        if not is_platform(presented(bearer)):
            raise Denied(401, "creating identities needs the platform token (Authorization: Bearer <token>)")

    def caller(bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> Consumer:
        return access.identify(presented(bearer))

    def platform_or_caller(bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> Consumer | None:
        key = presented(bearer)
        return None if is_platform(key) else access.identify(key)

    @router.post(
        "/consumers",
        status_code=201,
        dependencies=[Depends(platform)],
        summary="A new consumer identity",
        responses=errors(400, 401, 409),
    )
    def create_consumer(body: NewConsumer) -> dict[str, Any]:
        consumer, key = access.create_consumer(body.id, body.team, body.contact)
        return {"consumer": consumer.id, "team": consumer.team, "api_key": key, "shown": "once: keep it safe"}

    @router.get("/consumers", summary="Consumer identities, their keys (never the secrets) and grants")
    def consumers() -> list[dict[str, Any]]:
        return access.consumers()

    @router.get("/whoami", summary="The consumer a key proves, and its grants", responses=errors(401))
    def whoami(
        me: Annotated[Consumer, Depends(caller)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> dict[str, Any]:
        grants = [_request_json(r) for r in access.requests(status="approved", consumer=me.id)]
        key = access.presented_key(presented(bearer))
        # A key issued before the SQL ports took SCRAM logins has no SCRAM secret: it needs a rotation.
        shown = {"id": key.id, "sql_login": "scram-sha-256" if key.scram else None}
        return {"consumer": me.id, "team": me.team, "key": shown, "grants": grants}

    @router.post(
        "/consumers/{consumer_id}/keys",
        status_code=201,
        summary="Rotate: a new key, the old ones retired",
        responses=errors(400, 401, 403, 404),
    )
    def rotate(
        consumer_id: str, body: Rotation, who: Annotated[Consumer | None, Depends(platform_or_caller)]
    ) -> dict[str, Any]:
        if who is not None and who.id != consumer_id:
            raise AccessError(403, f"{who.id} may rotate only its own keys")
        key, replaced = access.rotate(consumer_id, body.grace_seconds)
        return {"consumer": consumer_id, "api_key": key, "replaced": replaced, "grace_seconds": body.grace_seconds}

    @router.delete(
        "/keys/{key_id}", summary="Revoke a key at once, on every port", responses=errors(401, 403, 404, 409)
    )
    def revoke_key(key_id: str, who: Annotated[Consumer | None, Depends(platform_or_caller)]) -> dict[str, Any]:
        return access.revoke_key(key_id, who).public(access.clock())

    @router.post(
        "/lakehouse-credentials",
        status_code=201,
        summary="S3 credentials for the key presented: read the granted products' Iceberg tables directly",
        responses=errors(401, 409),
    )
    def lakehouse(
        me: Annotated[Consumer, Depends(caller)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> dict[str, Any]:
        access_key, secret_key = access.lakehouse_credentials(me, presented(bearer) or "")
        return {
            "consumer": me.id,
            "access_key": access_key,
            "secret_key": secret_key,
            "shown": "once: a new call replaces them; revoking the API key revokes them",
            "tables": sorted(access.lakehouse_tables().get(me.id, set())),
        }

    @router.post(
        "/requests", status_code=201, summary="Ask a product's owners for access", responses=errors(400, 401, 404, 409)
    )
    def request(body: NewRequest, me: Annotated[Consumer, Depends(caller)]) -> dict[str, Any]:
        return _request_json(access.request(me, body.product, body.purpose, body.pii))

    @router.get(
        "/requests", summary="Access requests, newest last; filter by status or consumer", responses=errors(400)
    )
    def requests(status: str | None = None, consumer: str | None = None) -> list[dict[str, Any]]:
        return [_request_json(r) for r in access.requests(status, consumer)]

    @router.get("/grants", summary="The grants in force: approved requests")
    def grants(consumer: str | None = None) -> list[dict[str, Any]]:
        return [_request_json(r) for r in access.requests("approved", consumer)]

    @router.post(
        "/requests/{request_id}/approve",
        summary="The owning team grants the request",
        responses=errors(400, 401, 403, 404, 409),
    )
    def approve(request_id: str, body: Decision, me: Annotated[Consumer, Depends(caller)]) -> dict[str, Any]:
        return _request_json(access.decide(request_id, me, True, body.note))

    @router.post(
        "/requests/{request_id}/deny",
        summary="The owning team refuses the request",
        responses=errors(400, 401, 403, 404, 409),
    )
    def deny(request_id: str, body: Decision, me: Annotated[Consumer, Depends(caller)]) -> dict[str, Any]:
        return _request_json(access.decide(request_id, me, False, body.note))

    @router.post(
        "/requests/{request_id}/revoke",
        summary="Withdraw a grant (owners), or give it up (its holder)",
        responses=errors(400, 401, 403, 404, 409),
    )
    def revoke(request_id: str, body: Decision, me: Annotated[Consumer, Depends(caller)]) -> dict[str, Any]:
        return _request_json(access.revoke_grant(request_id, me, body.note))

    app.include_router(router)
