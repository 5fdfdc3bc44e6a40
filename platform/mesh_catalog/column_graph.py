"""Column-level lineage across the mesh: which columns each column's values are computed from.

Declared by the contracts (each column's `transformSourceObjects`, resolved through the product's input
ports to the upstream product's column, the Kafka record's field or the captured table's column) and
confirmed by the OpenLineage run events the products send: an edge is `observed` when the downstream
product's latest run reported it in its column lineage. Column ids read `<node>/<table>.<column>` for a
product's column and `<node>/<column>` for an external source's (`kafka:<topic>/title_id`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mesh_catalog.graph_walk import reachable_edges
from mesh_catalog.lineage import source_node_id
from mesh_catalog.runs import Dataset, Run, dataset_node
from mesh_discovery.entries import CatalogEntry, InputPort
from mesh_sdk.spec.column_lineage import SourceRef, derivations


@dataclass(frozen=True)
class ColumnNode:
    id: str
    node: str  # the product, Kafka topic or captured table it belongs to
    table: str | None  # a product's table; None for an external source's field
    column: str
    # True: the product is registered and has the column; False: it does not; None: an external source
    known: bool | None


@dataclass(frozen=True)
class ColumnEdge:
    source: str
    target: str
    description: str
    observed: bool = False


@dataclass(frozen=True)
class Unresolved:
    """A declared source the catalog cannot find: a column that is not in the upstream's contract."""

    product: str
    column: str
    reference: str
    problem: str


def column_id(node: str, table: str | None, column: str) -> str:
    return f"{node}/{table}.{column}" if table else f"{node}/{column}"


class ColumnGraph:
    def __init__(self, nodes: Iterable[ColumnNode], edges: Iterable[ColumnEdge], unresolved: Iterable[Unresolved]):
        self.nodes = {n.id: n for n in nodes}
        self.edges = list(edges)
        self.unresolved = list(unresolved)

    @classmethod
    def build(cls, entries: Iterable[CatalogEntry], runs: Mapping[str, Run] | None = None) -> ColumnGraph:
        entries = list(entries)
        by_id = {e.id: e for e in entries}
        nodes: dict[str, ColumnNode] = {}
        edges: list[ColumnEdge] = []
        unresolved: list[Unresolved] = []
        for entry in entries:
            for c in entry.columns:
                cid = column_id(entry.id, c.table, c.name)
                nodes[cid] = ColumnNode(cid, entry.id, c.table, c.name, True)
        for entry in entries:
            ports = {p.name: p for p in entry.input_ports}
            contract = entry.document.get("contract")
            found, _problems = derivations(contract if isinstance(contract, dict) else {}, ports)
            observed = _observed(runs.get(entry.id) if runs else None)
            for d in found:
                target = column_id(entry.id, d.table, d.column)
                for ref in d.sources:
                    source = _resolve(entry, ports, ref, by_id)
                    if source.known is False:
                        unresolved.append(
                            Unresolved(entry.id, target, str(ref), f"{source.id} is not a column of its contract")
                        )
                    nodes.setdefault(source.id, source)
                    edges.append(ColumnEdge(source.id, target, d.description, (source.id, target) in observed))
        return cls(nodes.values(), edges, unresolved)

    def upstream(self, column: str) -> list[ColumnEdge]:
        """Every edge that leads to the column, nearest first."""
        return self._walk(column, up=True)

    def downstream(self, column: str) -> list[ColumnEdge]:
        return self._walk(column, up=False)

    def sources(self, column: str) -> list[str]:
        """The columns at the start of every chain that leads to `column`: where its data enters the mesh."""
        feeding = {e.source for e in self.upstream(column)}
        fed = {e.target for e in self.edges}
        return sorted(c for c in feeding if c not in fed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "nodes": [asdict(n) for n in self.nodes.values()],
            "edges": [asdict(e) for e in self.edges],
            "unresolved": [asdict(u) for u in self.unresolved],
        }

    def _walk(self, column: str, *, up: bool) -> list[ColumnEdge]:
        if column not in self.nodes:
            from mesh_catalog.lineage import UnknownNode

            raise UnknownNode(column)

        def source(edge: ColumnEdge) -> str:
            return edge.source

        def target(edge: ColumnEdge) -> str:
            return edge.target

        return reachable_edges(column, self.edges, target if up else source, source if up else target)


def _resolve(
    entry: CatalogEntry, ports: Mapping[str, InputPort], ref: SourceRef, by_id: Mapping[str, CatalogEntry]
) -> ColumnNode:
    if ref.via == "table":
        cid = column_id(entry.id, ref.name, ref.column)
        return ColumnNode(cid, entry.id, ref.name, ref.column, _has(entry, ref.name, ref.column))
    port = ports[ref.name]
    node = source_node_id(port)
    if port.kind != "product":
        return ColumnNode(column_id(node, None, ref.column), node, None, ref.column, None)
    upstream = by_id.get(port.source)
    table = port.port or "stream"
    known = _has(upstream, table, ref.column) if upstream is not None else None
    return ColumnNode(column_id(node, table, ref.column), node, table, ref.column, known)


def _has(entry: CatalogEntry | None, table: str, column: str) -> bool:
    return entry is not None and any(c.table == table and c.name == column for c in entry.columns)


def _observed(run: Run | None) -> set[tuple[str, str]]:
    """(source column, target column) pairs the run's column lineage facets report."""
    if run is None:
        return set()
    datasets = run.datasets()
    pairs = set()
    for output in run.outputs:
        if output.port is None:
            continue
        node, table = output.port.split("/", 1)
        for column, fields in output.columns.items():
            for f in fields:
                pairs.add(
                    (
                        _field_column(datasets.get((f.namespace, f.name)), f.namespace, f.name, f.field),
                        column_id(node, table, column),
                    )
                )
    return pairs


def _field_column(dataset: Dataset | None, namespace: str, name: str, field: str) -> str:
    if dataset is not None and dataset.port is not None:
        node, port = dataset.port.split("/", 1)
        return column_id(node, port, field)
    return column_id(dataset_node(namespace, name), None, field)
