"""The GraphQL output port, its types generated from the contract: the same rows, filters,
pagination and time travel as REST, with GraphiQL to explore them. The same API key and grants as
REST, the same PII masking; queries deeper, wider (aliases) or longer than any real question over a
product's tables are refused before they run."""

# No `from __future__ import annotations` here: strawberry reads the resolvers' annotations, which
# name types built at run time, so they must be real objects rather than strings.
import dataclasses
import datetime as dt
import inspect
from typing import TYPE_CHECKING, Annotated, Any, NewType

import strawberry
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from mesh_access import Access
from mesh_sdk.access.gate import AccessGate
from mesh_sdk.serve.filters import table_filters
from mesh_sdk.serve.http_errors import errors
from mesh_sdk.serve.reader import QueryError, TableReader
from mesh_sdk.serve.rest import API_KEY, BEARER, consumer_dependency
from mesh_sdk.storage.maintenance import retention_report
from mesh_web import GraphiQLRouter

# Generous for any honest question (GraphiQL's own introspection query is 13 deep), fatal to bombs.
MAX_DEPTH = 15
MAX_ALIASES = 50
MAX_TOKENS = 5000

if TYPE_CHECKING:
    from mesh_sdk.serve.served import Served

# GraphQL's Int is 32-bit; ids and milliseconds are not.
Long = strawberry.scalar(NewType("Long", int), serialize=int, parse_value=int, description="A 64-bit integer")
_GRAPHQL_TYPES: dict[str, Any] = {
    "integer": Long,
    "number": float,
    "boolean": bool,
    "timestamp": dt.datetime,
    "date": dt.date,
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _pascal(name: str) -> str:
    return "".join(part.title() for part in name.replace("-", "_").split("_"))


@strawberry.type
class Snapshot:
    snapshot_id: Long  # type: ignore[valid-type]
    committed_at: dt.datetime
    operation: str
    added_rows: Long  # type: ignore[valid-type]
    total_rows: Long  # type: ignore[valid-type]


@strawberry.type
class RetentionTier:
    every_seconds: int
    for_seconds: float


@strawberry.type
class Tag:
    name: str
    snapshot_id: Long  # type: ignore[valid-type]


@strawberry.type
class Compaction:
    snapshot_id: Long  # type: ignore[valid-type]
    at: dt.datetime
    compacted_from: Long  # type: ignore[valid-type]
    files_rewritten: int
    files_written: int
    rows: Long  # type: ignore[valid-type]
    data_files_after: int


@strawberry.type
class TableRetention:
    port: str
    kept: int
    oldest_reachable: dt.datetime | None
    newest: dt.datetime | None
    data_files: int
    tags: list[Tag]
    last_compaction: Compaction | None


@strawberry.type(description="What the snapshots port keeps (REST: /snapshots/retention)")
class SnapshotRetention:
    description: str
    recent_seconds: float
    recent_max: int
    tiers: list[RetentionTier]
    compaction: str
    tables: list[TableRetention]


def _retention(rt: "Served") -> SnapshotRetention:
    report = retention_report(rt.upkeep, {port: r.table() for port, r in rt.served_tables().items()})
    policy = report["policy"]

    def when(value: str | None) -> dt.datetime | None:
        return dt.datetime.fromisoformat(value) if value else None

    def compaction(run: dict[str, Any] | None) -> Compaction | None:
        if run is None:
            return None
        return Compaction(**(run | {"at": dt.datetime.fromisoformat(run["at"])}))

    return SnapshotRetention(
        description=policy["description"],
        recent_seconds=policy["recent_seconds"],
        recent_max=policy["recent_max"],
        tiers=[RetentionTier(every_seconds=t["every_seconds"], for_seconds=t["for_seconds"]) for t in policy["tiers"]],
        compaction=policy["compaction"],
        tables=[
            TableRetention(
                port=port,
                kept=t["kept"],
                oldest_reachable=when(t["oldest_reachable"]),
                newest=when(t["newest"]),
                data_files=t["data_files"],
                tags=[Tag(name=n, snapshot_id=i) for n, i in t["tags"].items()],
                last_compaction=compaction(t["last_compaction"]),
            )
            for port, t in report["tables"].items()
        ],
    )


def _table_fields(rt: "Served", port: str, reader: TableReader) -> tuple[list[tuple[str, Any]], Any]:
    """`<port>(where, sort, first, after, asOf)`, `<port>ByKey(...)` and `<port>Snapshots` for one table."""
    props = reader.props
    type_name = _pascal(f"{rt.product.descriptor.name}_{port}")

    row_fields = [
        (
            n,
            _GRAPHQL_TYPES.get(p.logicalType or "", str) | None,
            dataclasses.field(default=None, metadata={"strawberry": strawberry.field(description=p.description)}),
        )
        for n, p in props.items()
    ]
    row_type = strawberry.type(
        dataclasses.make_dataclass(type_name, row_fields),
        description=rt.product.contract.object(port).description,
    )

    filters = {f.field: f for f in table_filters(props)}
    filter_fields: list[tuple[str, Any, Any]] = []
    for f in filters.values():
        # A timestamp is compared with ISO-8601 text, as in REST.
        kind = str if f.logical_type == "timestamp" else _GRAPHQL_TYPES.get(f.logical_type, str)
        filter_fields.append((f.field, (list[kind] if f.many else kind) | None, dataclasses.field(default=None)))  # type: ignore[valid-type]
    filter_type = strawberry.input(
        dataclasses.make_dataclass(f"{type_name}Filter", filter_fields),
        description=f"Conditions on {port}; all must hold",
    )

    page_type = strawberry.type(
        dataclasses.make_dataclass(
            f"{type_name}Page",
            [("items", list[row_type]), ("next_cursor", str | None), ("snapshot_id", Long | None)],  # type: ignore[valid-type]
        )
    )

    def to_row(row: dict[str, Any]) -> Any:
        return row_type(**{k: row.get(k) for k in props})

    def to_filters(where: Any) -> dict[str, str]:
        given = {f.name: getattr(where, f.name) for f in dataclasses.fields(where)} if where is not None else {}
        chosen = {name: value for name, value in given.items() if value is not None}
        return {
            filters[name].key: ",".join(map(str, value)) if filters[name].many else str(value)
            for name, value in chosen.items()
        }

    gate = rt.access

    def rows(
        info: Any, where: Any = None, sort: Any = None, first: Any = 100, after: Any = None, as_of: Any = None
    ) -> Any:
        access = _access(info)
        try:
            page = reader.page(to_filters(where), sort, first, after, as_of, gate.hidden(access))
        except QueryError as exc:
            raise ValueError(str(exc)) from None
        gate.read(access, "graphql", port, len(page.items))
        return page_type(
            items=[to_row(r) for r in page.items], next_cursor=page.next_cursor, snapshot_id=page.snapshot_id
        )

    # strawberry reads the resolvers' annotations: the generated types, not what a type checker can see.
    rows.__annotations__ = {
        "info": strawberry.Info,
        "where": filter_type | None,
        "sort": str | None,
        "first": int,
        "after": str | None,
        "as_of": str | None,
        "return": page_type,
    }

    # One key column: `key`; a composite key: one argument per column, named after it.
    key_args = ["key"] if len(reader.key_columns) == 1 else list(reader.key_columns)

    def by_key(**arguments: Any) -> Any:
        access = _access(arguments["info"])
        try:
            found = reader.lookup([str(arguments[a]) for a in key_args], arguments.get("as_of"), gate.hidden(access))
        except QueryError as exc:
            raise ValueError(str(exc)) from None
        gate.read(access, "graphql", port, 1 if found else 0)
        return to_row(found) if found else None

    parameters = [inspect.Parameter("info", inspect.Parameter.KEYWORD_ONLY, annotation=strawberry.Info)]
    parameters += [inspect.Parameter(a, inspect.Parameter.KEYWORD_ONLY, annotation=str) for a in key_args]
    parameters.append(inspect.Parameter("as_of", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=str | None))
    by_key.__signature__ = inspect.Signature(parameters, return_annotation=row_type | None)  # type: ignore[attr-defined]
    by_key.__annotations__ = (
        {"info": strawberry.Info} | {a: str for a in key_args} | {"as_of": str | None, "return": row_type | None}
    )

    def snapshots() -> list[Snapshot]:
        return [
            Snapshot(
                snapshot_id=s.snapshot_id,
                committed_at=s.committed_at,
                operation=s.operation,
                added_rows=s.added_rows,
                total_rows=s.total_rows,
            )
            for s in reader.snapshots()
        ]

    keys = ", ".join(reader.key_columns)
    fields = [
        (_camel(port), strawberry.field(resolver=rows, description=f"{port} rows: filter, sort, page, as of")),
        (_camel(f"{port}_by_key"), strawberry.field(resolver=by_key, description=f"One {port} row by {keys}")),
        (
            _camel(f"{port}_snapshots"),
            strawberry.field(resolver=snapshots, description=f"Snapshots of {port}, usable as asOf"),
        ),
    ]
    return fields, snapshots


def build_schema(rt: "Served") -> strawberry.Schema:
    """Every table the product serves; `snapshots` is the main table's (the one REST lists first)."""
    fields: list[tuple[str, Any]] = []
    for port, reader in rt.served_tables().items():
        table_fields, snapshots = _table_fields(rt, port, reader)
        fields += table_fields
        if port == rt.product.served_port:
            fields.append(
                ("snapshots", strawberry.field(resolver=snapshots, description=f"Snapshots of {port}, usable as asOf"))
            )

    def snapshot_retention() -> SnapshotRetention:
        return _retention(rt)

    fields.append(("snapshotRetention", strawberry.field(resolver=snapshot_retention, description="What is kept")))
    query = strawberry.type(type("Query", (), {"__annotations__": {}, **dict(fields)}))
    limits = [
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(MAX_ALIASES),
        lambda: MaxTokensLimiter(MAX_TOKENS),
    ]
    return strawberry.Schema(query=query, scalar_overrides={}, extensions=limits)


def _access(info: Any) -> Access:
    access: Access | None = info.context.get("access")
    if access is None:  # only GraphiQL's page is served without a key, and it runs no query
        raise ValueError("no API key: send `Authorization: Bearer <key>`")
    return access


def _context_getter(gate: AccessGate) -> Any:
    check = consumer_dependency(gate, "graphql", "graphql")

    def context(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
        api_key: Annotated[str | None, Depends(API_KEY)],
    ) -> dict[str, Any]:
        if request.method == "GET" and "query" not in request.query_params:
            return {"access": None}  # the GraphiQL page; its queries carry the key (its Headers tab)
        return {"access": check(bearer, api_key)}

    return context


def mount(app: FastAPI, rt: "Served") -> None:
    router = GraphiQLRouter(
        build_schema(rt),
        graphql_ide="graphiql",
        context_getter=_context_getter(rt.access),
        answers=errors(401, 403),
    )
    app.include_router(router, prefix="/graphql")
