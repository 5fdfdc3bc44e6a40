"""Where the lineage graph's boxes go: layered left to right by depth (sources first), each layer
ordered to keep edges short. Pure: nodes and edges in, positions out, so the page draws plain SVG that
needs no script to show (the script only adds highlighting).

Depth is the longest path from a source; within a layer the nodes are ordered by the mean position of
their upstream nodes (the barycentre heuristic, one sweep), ties broken by label."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

BOX_W, BOX_H = 230, 46
GAP_X, GAP_Y = 90, 26
MARGIN = 16


@dataclass(frozen=True)
class Placed:
    id: str
    label: str
    kind: str
    status: str
    x: float
    y: float
    layer: int


@dataclass(frozen=True)
class Route:
    source: str
    target: str
    path: str  # an SVG path from the source's right side to the target's left side
    declared: bool
    observed: bool


@dataclass(frozen=True)
class Layout:
    nodes: list[Placed]
    routes: list[Route]
    width: float
    height: float


def layout(nodes: Sequence[tuple[str, str, str, str]], edges: Iterable[tuple[str, str, bool, bool]]) -> Layout:
    """`nodes`: (id, label, kind, status); `edges`: (source, target, declared, observed)."""
    edges = [e for e in edges if e[0] != e[1]]
    labels = {n[0]: n for n in nodes}
    upstream: dict[str, list[str]] = defaultdict(list)
    for source, target, *_ in edges:
        upstream[target].append(source)
    depth: dict[str, int] = {}

    def depth_of(node: str, seen: frozenset[str] = frozenset()) -> int:
        if node in depth:
            return depth[node]
        if node in seen:  # a cycle: break it where it closes
            return 0
        ups = [u for u in upstream.get(node, []) if u in labels]
        depth[node] = 1 + max((depth_of(u, seen | {node}) for u in ups), default=-1)
        return depth[node]

    layers: dict[int, list[str]] = defaultdict(list)
    for node_id in labels:
        layers[depth_of(node_id)].append(node_id)
    position: dict[str, float] = {}
    for index in sorted(layers):

        def barycentre(node_id: str) -> tuple[float, str]:
            ups = [position[u] for u in upstream.get(node_id, []) if u in position]
            return (sum(ups) / len(ups) if ups else float("inf"), labels[node_id][1])

        layers[index].sort(key=barycentre)
        for rank, node_id in enumerate(layers[index]):
            position[node_id] = rank
    tallest = max((len(v) for v in layers.values()), default=0)
    height = 2 * MARGIN + tallest * BOX_H + max(0, tallest - 1) * GAP_Y
    placed: dict[str, Placed] = {}
    for index, members in layers.items():
        column_h = len(members) * BOX_H + max(0, len(members) - 1) * GAP_Y
        top = (height - column_h) / 2
        for rank, node_id in enumerate(members):
            _, label, kind, status = labels[node_id]
            x = MARGIN + index * (BOX_W + GAP_X)
            placed[node_id] = Placed(node_id, label, kind, status, x, top + rank * (BOX_H + GAP_Y), index)
    routes = []
    for source, target, declared, observed in edges:
        if source not in placed or target not in placed:
            continue
        a, b = placed[source], placed[target]
        x1, y1 = a.x + BOX_W, a.y + BOX_H / 2
        x2, y2 = b.x, b.y + BOX_H / 2
        bend = max(30.0, (x2 - x1) / 2)
        routes.append(
            Route(
                source,
                target,
                f"M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} {x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}",
                declared,
                observed,
            )
        )
    width = 2 * MARGIN + (max(layers, default=0) + 1) * BOX_W + max(layers, default=0) * GAP_X
    return Layout(sorted(placed.values(), key=lambda p: (p.layer, p.y)), routes, width, height)
