"""The REST output port, generated from the contract: list with filters, sorting and cursor
pagination, lookup by key, time travel, snapshots, SQL, discovery, observation and control.

Rows (lists, lookups, SQL) need a consumer's API key with a grant for the product; PII columns are
masked unless a grant includes PII. Discovery, observation, snapshots and metrics describe the product,
not its data, and stay open: the catalog and monitoring read them."""

from __future__ import annotations

import hmac
import inspect
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from mesh_access import Access, Denied
from mesh_sdk.access.gate import AccessGate, statement_digest
from mesh_sdk.access.policy import PolicyUpdate
from mesh_sdk.serve.filters import table_filters
from mesh_sdk.serve.http_errors import Answer, answer_errors, errors, invalid_requests_are_400, plain
from mesh_sdk.serve.reader import FILTER_OPS, QueryError, TableReader
from mesh_sdk.serve.served import declared_query_ports
from mesh_sdk.spec.logic import CommandRefused, UnknownCommand
from mesh_sdk.spec.product import dump
from mesh_sdk.storage.maintenance import retention_report
from mesh_sql.errors import SqlError, SqlRefused
from mesh_web import serve_pages

if TYPE_CHECKING:
    from mesh_sdk.serve.served import Served

_TYPES = {"integer": int, "number": float, "boolean": bool}


class SqlRequest(BaseModel):
    sql: str = Field(description="one read-only SELECT over the product's tables")
    params: list[Any] = Field(default_factory=list, description="values for $1, $2, ... placeholders")
    format: str = Field("json", pattern="^(json|arrow)$", description="json, or arrow (an Arrow IPC stream)")
    as_of: str | None = Field(None, description="snapshot id or ISO-8601 time")


BEARER = HTTPBearer(auto_error=False, description="a consumer's API key (mesh access consumer create)")
PLATFORM_TOKEN = HTTPBearer(
    scheme_name="PlatformToken", auto_error=False, description="the platform's token: the control port only"
)
_SQL_ANSWER = {
    "description": "The rows: JSON (columns and rows), or an Arrow IPC stream when `format` is arrow",
    "content": {
        "application/json": {},
        "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}},
    },
}
API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="the same key, for clients without Bearer")


def consumer_dependency(gate: AccessGate, port: str, resource: str) -> Callable[..., Access]:
    """A FastAPI dependency: the caller's access to the product, or 401/403 naming what is wrong."""

    def access(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
        api_key: Annotated[str | None, Depends(API_KEY)],
    ) -> Access:
        try:
            return gate.check(api_key or (bearer.credentials if bearer else None), port, resource)
        except Denied as exc:
            headers = {"WWW-Authenticate": 'Bearer realm="mesh"'} if exc.status == 401 else None
            raise HTTPException(exc.status, exc.message, headers=headers) from None

    return access


def _with_sqlstate(exc: Exception) -> dict[str, Any]:
    return plain(exc) | {"sqlstate": getattr(exc, "sqlstate", None)}


# What each error a request can meet answers, in one place: the body names the problem (and an SQL
# error's code); the most specific type listed wins.
STATUS_OF: dict[type[Exception], int | tuple[int, Answer]] = {
    QueryError: 400,
    SqlError: (400, _with_sqlstate),
    SqlRefused: (403, _with_sqlstate),
}


def build_app(rt: Served) -> FastAPI:
    """The product's HTTP app: a router per part, the query ports only where the descriptor declares them."""
    d = rt.product.descriptor
    app = FastAPI(
        docs_url=None,  # Swagger UI from our own assets: mesh_web.serve_pages
        redoc_url=None,
        title=f"{d.id} — {d.name}",
        description=f"{d.description}\n\nOwner: {d.owner.team} ({d.owner.contact}).",
        version=rt.product.contract.model.version or "1",
    )
    answer_errors(app, STATUS_OF)
    declared = declared_query_ports(d)
    app.include_router(describing(rt))
    if "rest" in declared:
        app.include_router(listing(rt))
    app.include_router(observing(rt))
    if "sql" in declared:
        app.include_router(sql_over_http(rt))
    app.include_router(controlling(rt))
    if "graphql" in declared:
        rt.mount_graphql(app)
    serve_pages(app)
    invalid_requests_are_400(app)
    return app


def describing(rt: Served) -> APIRouter:
    """What the product is (discovery), that it lives, and the snapshots its tables keep."""
    router = APIRouter()

    @router.get("/", summary="Discovery: descriptor, contract, schemas, ports and example queries")
    def discovery() -> dict[str, Any]:
        return (
            dump(rt.product)
            | {"ports": rt.port_urls(), "policy": rt.policy.describe(), "access": rt.access.describe()}
            | rt.discovery_extras()
        )

    @router.get("/health", summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/snapshots",
        summary="Iceberg snapshots of the history; any can be used as `as_of`",
        description="Oldest first. What is kept, and for how long: `/snapshots/retention`.",
    )
    def snapshots(response: Response) -> list[dict[str, Any]]:
        response.headers["Link"] = '</snapshots/retention>; rel="describedby"'
        return [s.__dict__ for s in rt.reader.snapshots()]

    @router.get(
        "/snapshots/retention",
        summary="What the snapshots port keeps: the policy, and per table the snapshots and files it holds",
        description="Every snapshot of a recent window, then the newest of each minute and of each hour for "
        "as long as the policy says; the current and every tagged snapshot always. `as_of` a time older "
        "than the recent window reads the newest snapshot kept before it (exact at whole hours). Small "
        "files are compacted: a `replace` snapshot with the same rows.",
    )
    def retention() -> dict[str, Any]:
        return retention_report(rt.upkeep, {port: r.table() for port, r in rt.served_tables().items()})

    return router


def listing(rt: Served) -> APIRouter:
    """The REST port: each served table's rows, listed with filters and by key."""
    router = APIRouter()
    gate = rt.access
    for name, reader in rt.served_tables().items():
        router.add_api_route(
            f"/{name}",
            _list_endpoint(name, reader, gate),
            methods=["GET"],
            summary=f"List {name} rows",
            responses=errors(400, 401, 403),
            description="Filter with `column=value` or `column__op=value` (op: ne, gt, gte, lt, lte, "
            "in), sort with `sort=column` or `sort=-column`, page with `cursor`.",
        )
        router.add_api_route(
            "/" + "/".join([name, *(f"{{{c}}}" for c in _key_params(reader))]),
            _lookup_endpoint(name, reader, gate),
            methods=["GET"],
            summary=f"One {name} row by {', '.join(reader.key_columns)}",
            responses=errors(400, 401, 403, 404),
        )
    return router


def observing(rt: Served) -> APIRouter:
    """The observation port: what the product says about its own health."""
    router = APIRouter()

    @router.get("/observations", summary="Freshness, volumes, dead letters, lag, quality checks, SLOs")
    def observations() -> dict[str, Any]:
        return rt.observer.report()

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"description": "The text exposition format", "content": {"text/plain": {}}}},
    )
    def metrics() -> Response:
        rt.observer.freshness_seconds()
        return Response(generate_latest(rt.observer.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def controlling(rt: Served) -> APIRouter:
    """The control port, for the platform alone: policies applied at run time, a refresh on request."""

    def control_token(bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(PLATFORM_TOKEN)]) -> None:
        presented = bearer.credentials if bearer else ""
        if not hmac.compare_digest(presented.encode(), rt.control_token.encode()):
            raise HTTPException(401, "the control port needs `Authorization: Bearer <platform token>`")

    router = APIRouter(prefix="/control", dependencies=[Depends(control_token)])

    @router.get("/policy", summary="The policy in force", responses=errors(401))
    def current_policy() -> dict[str, Any]:
        return rt.policy.describe() | {
            "mask": sorted(rt.policy.masked),
            "history": [p.model_dump() for p in rt.policy.history],
        }

    @router.put(
        "/policy",
        summary="Apply a platform policy now (for example: mask a column), without a restart",
        responses=errors(400, 401, 422),
    )
    def put_policy(update: PolicyUpdate) -> dict[str, Any]:
        try:
            masked = rt.policy.apply(update)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"mask": sorted(masked)}

    @router.post(
        "/refresh",
        summary="Derived products: recompute now (retrain a model), even if no input changed",
        responses=errors(401, 409),
    )
    def refresh_now() -> dict[str, Any]:
        done = rt.refresh_now()
        if done is None:
            raise HTTPException(409, "this product is fed by its input streams as they arrive: nothing to refresh")
        return done

    @router.post(
        "/commands/{name}",
        summary="Derived products that take people's decisions (a data steward's match, say): take one now",
        description="The body is the command's arguments, a JSON object; the product commits the decision like a "
        "refresh and answers what it committed.",
        responses=errors(400, 401, 404, 409, 422),
    )
    def command(name: str, arguments: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        try:
            done = rt.command(name, arguments)
        except UnknownCommand as exc:
            raise HTTPException(404, str(exc.args[0]) if exc.args else f"no command {name!r}") from None
        except CommandRefused as exc:
            raise HTTPException(422, str(exc)) from None
        if done is None:
            raise HTTPException(409, "this product takes no commands")
        return done

    return router


def sql_over_http(rt: Served) -> APIRouter:
    """`POST /sql`: the SQL port over HTTP, for clients without a PostgreSQL driver."""
    router = APIRouter()
    gate = rt.access

    @router.post(
        "/sql",
        summary="A read-only SQL query over the product's tables (JSON or Arrow)",
        description="403 also when the statement is refused: not one read-only SELECT over this product's tables.",
        responses={200: _SQL_ANSWER, **errors(400, 401, 403)},
    )
    def sql(
        request: Annotated[SqlRequest, Body()],
        # A default rather than Annotated: postponed annotations cannot name this function's locals.
        access: Access = Depends(consumer_dependency(gate, "sql_http", "sql")),  # noqa: B008
    ) -> Response:
        result = rt.sql_query(request.sql, request.params, request.as_of, gate.hidden(access))
        gate.read(access, "sql_http", statement_digest(request.sql), result.num_rows)
        if request.format == "arrow":
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, result.schema) as writer:
                writer.write_table(result)
            return Response(sink.getvalue().to_pybytes(), media_type="application/vnd.apache.arrow.stream")
        rows = [[_finite(v) for v in r.values()] for r in result.to_pylist()]
        return JSONResponse(jsonable_encoder({"columns": result.schema.names, "rows": rows}))

    return router


def _list_endpoint(table: str, reader: TableReader, gate: AccessGate) -> Callable[..., dict[str, Any]]:
    """A list handler whose query parameters are the contract's columns and their operators, so the
    OpenAPI document describes every filter with the contract's words."""
    params = [
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter(
            "access",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[Access, Depends(consumer_dependency(gate, "rest", table))],
        ),
        inspect.Parameter(
            "sort",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[str | None, Query(description="column, or -column for descending")],
        ),
        inspect.Parameter(
            "limit",
            inspect.Parameter.KEYWORD_ONLY,
            default=100,
            annotation=Annotated[int, Query(ge=1, le=reader.max_page)],
        ),
        inspect.Parameter(
            "cursor",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[str | None, Query(description="next_cursor of the previous page")],
        ),
        inspect.Parameter(
            "as_of",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[str | None, Query(description="snapshot id or ISO-8601 time")],
        ),
    ]
    filter_names: list[tuple[str, str]] = []
    for f in table_filters(reader.props):
        python_name = f"f_{f.key}"
        annotation = str if f.many else _TYPES.get(f.logical_type, str)
        params.append(
            inspect.Parameter(
                python_name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[annotation | None, Query(alias=f.key, description=f.description)],
            )
        )
        filter_names.append((python_name, f.key))

    known = {"sort", "limit", "cursor", "as_of", *(q for _, q in filter_names)}

    def list_rows(**kwargs: Any) -> dict[str, Any]:
        unknown = sorted(set(kwargs["request"].query_params) - known)
        if unknown:
            raise QueryError(
                f"unknown query parameter(s) {unknown}: filter with column=value or column__op=value "
                f"(op: {', '.join(o for o in FILTER_OPS if o)}, in) on {', '.join(reader.props)}"
            )
        filters = {q: str(kwargs[p]) for p, q in filter_names if kwargs.get(p) is not None}
        access: Access = kwargs["access"]
        page = reader.page(
            filters, kwargs["sort"], kwargs["limit"], kwargs["cursor"], kwargs["as_of"], gate.hidden(access)
        )
        gate.read(access, "rest", table, len(page.items))
        return {"items": page.items, "next_cursor": page.next_cursor, "snapshot_id": page.snapshot_id}

    list_rows.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return list_rows


def _key_params(reader: TableReader) -> list[str]:
    """A single key is `{key}` in the path; a composite key is one path segment per column."""
    return ["key"] if len(reader.key_columns) == 1 else list(reader.key_columns)


def _lookup_endpoint(name: str, reader: TableReader, gate: AccessGate) -> Any:
    names = _key_params(reader)

    def lookup(**kwargs: Any) -> dict[str, Any]:
        key = [str(kwargs[n]) for n in names]
        access: Access = kwargs["access"]
        row = reader.lookup(key, kwargs["as_of"], gate.hidden(access))
        gate.read(access, "rest", name, 0 if row is None else 1)
        if row is None:
            wanted = ", ".join(f"{c}={k}" for c, k in zip(reader.key_columns, key, strict=True))
            raise HTTPException(404, f"no {name} row with {wanted}")
        return row

    params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[str, Path()]) for n in names]
    params.append(
        inspect.Parameter(
            "access",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[Access, Depends(consumer_dependency(gate, "rest", name))],
        )
    )
    params.append(
        inspect.Parameter(
            "as_of",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[str | None, Query(description="snapshot id or ISO time")],
        )
    )
    lookup.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return lookup


def _finite(value: Any) -> Any:
    """JSON has no infinity or NaN: they are sent as text, as PostgreSQL's JSON functions do."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value
