"""No module of the platform imports itself back, even for type checking: the layering contract
(`lint-imports` in `make lint`) orders the packages; this keeps the modules inside each acyclic too."""

from __future__ import annotations

from pathlib import Path

import grimp

PLATFORM = Path(__file__).resolve().parents[2] / "platform"
PACKAGES = sorted(p.name for p in PLATFORM.iterdir() if p.name.startswith("mesh_") and p.is_dir())


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


def test_every_platform_package_is_checked() -> None:
    assert {"mesh_sdk", "mesh_catalog", "mesh_governance", "mesh_testing", "mesh_chaos"} <= set(PACKAGES)
    # A namespace package (no __init__) would be skipped by the layering contract without a word.
    assert [p for p in PACKAGES if not (PLATFORM / p / "__init__.py").exists()] == []


def test_no_module_imports_itself_back() -> None:
    assert _cycles(grimp.build_graph(*PACKAGES, cache_dir=None)) == []  # a cache can outlive an edit


def test_a_cycle_is_found() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y"]]
