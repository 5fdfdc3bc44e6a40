"""The catalog's GraphQL API (a driving adapter, beside the REST one): GraphQL in, `CatalogService`
calls, typed results out. It has no logic of its own: every field asks the service what `api.py` asks it.

A bad argument (an empty search, an unknown status, an unknown lineage node) is a GraphQL error whose
message says what is wrong, never a server error; an unknown product id is `null`."""

# No `from __future__ import annotations` here: strawberry reads the resolvers' annotations.
import datetime as dt
from typing import Any

import strawberry
from fastapi import FastAPI
from strawberry.types import Info

from mesh_catalog.lineage import Edge, Node, UnknownNode
from mesh_catalog.registry import UnknownProduct
from mesh_catalog.service import CatalogService
from mesh_discovery.entries import CatalogEntry, Status
from mesh_sdk.spec.descriptor import ProductType
from mesh_web import GraphiQLRouter


def _service(info: Info[Any, Any]) -> CatalogService:
    service: CatalogService = info.context["catalog"]
    return service


@strawberry.type(description="The team that owns a product, and how to reach it")
class Owner:
    team: str
    contact: str | None


@strawberry.type(description="Who consumes a product, what for, and the tools they work with")
class Persona:
    role: str
    needs: str
    skills: list[str]


@strawberry.type(description="A column of a product's table, as its contract declares it")
class Column:
    name: str
    logical_type: str | None
    description: str
    pii: bool
    primary_key: bool


@strawberry.type(description="A table a product serves")
class Table:
    name: str
    columns: list[Column]


@strawberry.type(description="What a product reads: another product's port, a Kafka topic or a CDC table")
class InputPort:
    name: str
    kind: str
    source: str
    port: str | None


@strawberry.type(description="A product's scorecard: completeness, quality, freshness against its SLO, compliance")
class Scorecard:
    grade: str
    score: float
    quality_pass_rate: float | None
    freshness_verdict: str
    compliant: bool


@strawberry.type(description="A governance policy the product currently violates")
class Violation:
    policy: str
    severity: str
    field: str
    problem: str
    fix: str


def _scorecard(root: "Product", info: Info[Any, Any]) -> Scorecard:
    card = _service(info).scorecard(root.id)
    return Scorecard(
        grade=card.grade,
        score=card.score,
        quality_pass_rate=card.quality.pass_rate,
        freshness_verdict=card.freshness.verdict.value,
        compliant=card.compliance.compliant,
    )


def _violations(root: "Product", info: Info[Any, Any]) -> list[Violation]:
    return [
        Violation(policy=v.policy, severity=v.severity.value, field=v.field, problem=v.problem, fix=v.fix)
        for v in _service(info).compliance(root.id).violations
    ]


@strawberry.type(description="A data product of the mesh, available or not")
class Product:
    id: str
    domain: str
    name: str
    type: str
    type_meaning: str | None = strawberry.field(description="What the product type means in the design framework")
    description: str
    business_objective: str = strawberry.field(description="The business objective it serves (empty: not stated)")
    personas: list[Persona]
    owner: Owner | None
    status: str
    last_seen: dt.datetime
    tables: list[Table]
    input_ports: list[InputPort]

    scorecard: Scorecard = strawberry.field(resolver=_scorecard, description="The product's scorecard")
    violations: list[Violation] = strawberry.field(
        resolver=_violations, description="The product's current policy violations (empty: compliant)"
    )


@strawberry.type(description="A product matching a search, and where it matched")
class Hit:
    product: Product
    score: int
    matched: list[str]


@strawberry.type(description="A domain and the ids of its products")
class Domain:
    name: str
    products: list[str]


@strawberry.type(description="A product, or an external source (a Kafka topic, a CDC table)")
class LineageNode:
    id: str
    kind: str
    label: str
    status: str


@strawberry.type(description="An upstream node feeding a product's input port")
class LineageEdge:
    source: str
    target: str
    upstream_port: str
    input_port: str
    declared: bool = strawberry.field(description="an input port of the downstream product declares it")
    observed: bool = strawberry.field(description="the downstream product's latest OpenLineage run read it")


@strawberry.type(description="A column: <product id>/<table>.<column>, or <source>/<field> outside the mesh")
class LineageColumn:
    id: str
    node: str
    table: str | None
    column: str


@strawberry.type(description="A column computed from another")
class ColumnEdge:
    source: str
    target: str
    description: str
    observed: bool = strawberry.field(description="the target product's latest run reported it")


@strawberry.type(description="One column's lineage: every edge up to it and down from it, and where it enters the mesh")
class ColumnLineage:
    column: LineageColumn
    upstream: list[ColumnEdge]
    downstream: list[ColumnEdge]
    sources: list[str]


@strawberry.type(description="Nodes and the edges between them")
class Lineage:
    nodes: list[LineageNode]
    edges: list[LineageEdge]


@strawberry.type(description="A governance policy in force")
class Policy:
    id: str
    title: str
    severity: str
    fix: str


@strawberry.type(description="The governance policies in force; blob is the file's git blob id")
class Policies:
    version: int
    blob: str
    policies: list[Policy]


def _product(entry: CatalogEntry) -> Product:
    return Product(
        id=entry.id,
        domain=entry.domain,
        name=entry.name,
        type=entry.type,
        type_meaning=ProductType.meaning_of(entry.type),
        description=entry.description,
        business_objective=entry.business_objective,
        personas=[Persona(role=p.role, needs=p.needs, skills=list(p.skills)) for p in entry.personas],
        owner=Owner(team=entry.owner.team, contact=entry.owner.contact) if entry.owner else None,
        status=entry.availability.status.value,
        last_seen=entry.availability.last_seen,
        tables=[
            Table(
                name=table,
                columns=[
                    Column(
                        name=c.name,
                        logical_type=c.logical_type,
                        description=c.description,
                        pii=c.pii,
                        primary_key=c.primary_key,
                    )
                    for c in entry.columns
                    if c.table == table
                ],
            )
            for table in entry.tables
        ],
        input_ports=[InputPort(name=p.name, kind=p.kind, source=p.source, port=p.port) for p in entry.input_ports],
    )


def _node(node: Node) -> LineageNode:
    return LineageNode(id=node.id, kind=node.kind, label=node.label, status=node.status)


def _edge(edge: Edge) -> LineageEdge:
    return LineageEdge(
        source=edge.source,
        target=edge.target,
        upstream_port=edge.upstream_port,
        input_port=edge.input_port,
        declared=edge.declared,
        observed=edge.observed,
    )


def _resolve_column_lineage(info: Info[Any, Any], column: str) -> ColumnLineage:
    try:
        node, upstream, downstream, sources = _service(info).column_lineage_of(column)
    except UnknownNode as exc:
        raise ValueError(f"{exc}: a column id reads <product id>/<table>.<column>") from None

    def edges(found: list[Any]) -> list[ColumnEdge]:
        return [
            ColumnEdge(source=e.source, target=e.target, description=e.description, observed=e.observed) for e in found
        ]

    return ColumnLineage(
        column=LineageColumn(id=node.id, node=node.node, table=node.table, column=node.column),
        upstream=edges(upstream),
        downstream=edges(downstream),
        sources=sources,
    )


def _resolve_products(
    info: Info[Any, Any], domain: str | None = None, type: str | None = None, status: str | None = None
) -> list[Product]:
    return [_product(e) for e in _service(info).entries(domain=domain, type=type, status=Status.named(status))]


def _resolve_product(info: Info[Any, Any], id: str) -> Product | None:
    try:
        return _product(_service(info).entry(id))
    except UnknownProduct:
        return None


def _resolve_search(info: Info[Any, Any], q: str, domain: str | None = None, type: str | None = None) -> list[Hit]:
    if not q.strip():
        raise ValueError("q is empty: give the words to search for")
    return [
        Hit(product=_product(h.entry), score=h.score, matched=list(h.matches))
        for h in _service(info).search(q, domain=domain, type=type)
    ]


def _resolve_domains(info: Info[Any, Any]) -> list[Domain]:
    return [Domain(name=name, products=ids) for name, ids in _service(info).domains().items()]


def _resolve_lineage(info: Info[Any, Any], id: str | None = None) -> Lineage:
    service = _service(info)
    graph = service.lineage()
    if id is None:
        return Lineage(nodes=[_node(n) for n in graph.nodes.values()], edges=[_edge(e) for e in graph.edges])
    try:
        node, upstream, downstream = service.lineage_of(id)
    except UnknownNode as exc:
        raise ValueError(str(exc)) from None
    edges = [*upstream, *downstream]
    ids = dict.fromkeys([node.id, *(end for e in edges for end in (e.source, e.target))])
    return Lineage(nodes=[_node(graph.nodes[i]) for i in ids if i in graph.nodes], edges=[_edge(e) for e in edges])


def _resolve_policies(info: Info[Any, Any]) -> Policies:
    policies = _service(info).policies
    return Policies(
        version=policies.version,
        blob=policies.digest,
        policies=[Policy(id=p.id, title=p.title, severity=p.severity.value, fix=p.fix) for p in policies.policies],
    )


@strawberry.type
class Query:
    products: list[Product] = strawberry.field(
        resolver=_resolve_products, description="Every product, available or not; filtered by domain, type and status"
    )
    product: Product | None = strawberry.field(
        resolver=_resolve_product, description="One product by id; null when the catalog does not know it"
    )
    search: list[Hit] = strawberry.field(
        resolver=_resolve_search, description="Products matching every word, ranked, saying where each matched"
    )
    domains: list[Domain] = strawberry.field(resolver=_resolve_domains, description="Each domain with its products")
    lineage: Lineage = strawberry.field(
        resolver=_resolve_lineage,
        description="Product-level lineage: the whole graph, or with id what that node is made from and what is "
        "made from it",
    )
    policies: Policies = strawberry.field(
        resolver=_resolve_policies, description="The governance policies in force, and their version"
    )
    column_lineage: ColumnLineage = strawberry.field(
        resolver=_resolve_column_lineage,
        description="Column-level lineage of one column, declared by the contracts and observed in the runs",
    )


schema = strawberry.Schema(query=Query)


def mount(app: FastAPI, service: CatalogService) -> None:
    """Serve the schema at `/graphql`, with GraphiQL on a browser's GET."""

    async def context() -> dict[str, Any]:
        return {"catalog": service}

    app.include_router(GraphiQLRouter(schema, graphql_ide="graphiql", context_getter=context), prefix="/graphql")
