"""Breadth-first walks over the edges of a lineage graph (products or columns), one index per walk."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

E = TypeVar("E")


def reachable_edges(start: str, edges: Sequence[E], near: Callable[[E], str], far: Callable[[E], str]) -> list[E]:
    """Every edge reachable from `start`, stepping from an edge's `near` end to its `far` end, nearest
    first (upstream: near is the target; downstream: near is the source)."""
    leaving: dict[str, list[E]] = {}
    for edge in edges:
        leaving.setdefault(near(edge), []).append(edge)
    seen, out, queue = {start}, [], deque([start])
    while queue:
        for edge in leaving.get(queue.popleft(), ()):
            out.append(edge)
            if (end := far(edge)) not in seen:
                seen.add(end)
                queue.append(end)
    return out
