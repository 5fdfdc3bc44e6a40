"""Product-level lineage, from the input ports products declare: which products and external sources
(Kafka topics, tables of an operational database captured by CDC) each product is made from. An input
port a running product says it reads no more (retired: its source handed everything over, as the
monolith does at the end of a strangler-fig migration) is no longer part of it.

The OpenLineage run events products send confirm it: an edge is `observed` when the downstream
product's latest run read that upstream; a dependency a run shows but no input port declares is added
with `declared` false, for governance to see."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mesh_catalog.graph_walk import reachable_edges
from mesh_catalog.runs import Run
from mesh_discovery.entries import CatalogEntry, InputPort

UNKNOWN = "unknown"  # a product some input port names, but that has not registered (yet)


class UnknownNode(LookupError):
    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        super().__init__(f"no node {node_id!r} in the lineage graph")


@dataclass(frozen=True)
class Node:
    id: str  # a product id, `kafka:<topic>`, or `cdc:<database>.<schema>.<table>`
    kind: str  # product | kafka | cdc
    label: str
    status: str  # a product's availability, `unknown`, or `external`


@dataclass(frozen=True)
class Edge:
    source: str  # upstream node id
    target: str  # downstream product id
    upstream_port: str  # the upstream product's output port, or the topic an external source is read from
    input_port: str  # the downstream product's input port
    declared: bool = True  # an input port says so
    observed: bool = False  # the downstream product's latest run read it


class LineageGraph:
    def __init__(self, nodes: Iterable[Node], edges: Iterable[Edge]) -> None:
        self.nodes = {n.id: n for n in nodes}
        self.edges = list(edges)

    @classmethod
    def build(cls, entries: Iterable[CatalogEntry], runs: Mapping[str, Run] | None = None) -> LineageGraph:
        nodes: dict[str, Node] = {}
        edges = []
        entries = list(entries)
        for entry in entries:
            nodes[entry.id] = Node(entry.id, "product", f"{entry.domain}.{entry.name}", entry.availability.status.value)
        for entry in entries:
            run = (runs or {}).get(entry.id)
            read = {d.node_id: d for d in run.inputs} if run is not None else {}
            retired = {_source(port).id for port in entry.input_ports if port.retired}
            for port in entry.input_ports:
                if port.retired:  # read no more (a system that handed everything over): no longer its lineage
                    continue
                source = _source(port)
                nodes.setdefault(source.id, source)
                edges.append(Edge(source.id, entry.id, port.port or port.source, port.name, True, source.id in read))
            declared = {e.source for e in edges if e.target == entry.id} | retired
            for node_id, dataset in read.items():
                if node_id in declared:
                    continue
                nodes.setdefault(node_id, Node(node_id, node_id.split(":", 1)[0], dataset.name, "external"))
                port_name = dataset.port.split("/", 1)[1] if dataset.port else dataset.name
                edges.append(Edge(node_id, entry.id, port_name, "(undeclared)", False, True))
        return cls(nodes.values(), edges)

    def upstream(self, node_id: str) -> list[Edge]:
        """Every edge that leads to the node, nearest first."""
        return self._walk(node_id, lambda e: e.target, lambda e: e.source)

    def downstream(self, node_id: str) -> list[Edge]:
        """Every edge that leads away from the node, nearest first."""
        return self._walk(node_id, lambda e: e.source, lambda e: e.target)

    def path(self, start: str, end: str) -> list[Edge] | None:
        """A shortest chain of edges from `start` down to `end`; None when `end` is not downstream of it."""
        self._node(end)
        came_by: dict[str, Edge] = {}
        for edge in self.downstream(start):
            came_by.setdefault(edge.target, edge)
        if end not in came_by:
            return [] if start == end else None
        chain = [came_by[end]]
        while chain[0].source != start:
            chain.insert(0, came_by[chain[0].source])
        return chain

    def as_dict(self) -> dict[str, Any]:
        """The whole graph as plain data, for a picture."""
        return {"nodes": [asdict(n) for n in self.nodes.values()], "edges": [asdict(e) for e in self.edges]}

    def _node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise UnknownNode(node_id) from None

    def _walk(self, node_id: str, near: Callable[[Edge], str], far: Callable[[Edge], str]) -> list[Edge]:
        self._node(node_id)
        return reachable_edges(node_id, self.edges, near, far)


def source_node_id(port: InputPort) -> str:
    """The node an input port reads: the upstream product, the Kafka topic, or the captured table."""
    return _source(port).id


def _source(port: InputPort) -> Node:
    if port.kind == "product":
        parts = port.source.split(":")  # urn:mesh:<domain>:<product>:v<major>
        label = f"{parts[2]}.{parts[3]}" if len(parts) == 5 else port.source
        return Node(port.source, "product", label, UNKNOWN)
    if port.kind == "cdc":
        # cdc.<database>.<schema>.<table>: the captured table is the source, the topic only carries it.
        table = port.source.removeprefix("cdc.")
        return Node(f"cdc:{table}", "cdc", table, "external")
    return Node(f"kafka:{port.source}", "kafka", port.source, "external")
