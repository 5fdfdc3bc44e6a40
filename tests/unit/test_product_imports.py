"""A product folder's own code imports the SDK's public API (`mesh_sdk`) and nothing deeper: the SDK's
parts can move without touching a product, and a product cannot reach into the platform's plumbing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mesh_sdk

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
CODE = sorted(p for p in PRODUCTS.glob("*/product.py"))


def _sdk_imports(path: Path) -> list[tuple[str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mesh_sdk"):
            found.append((node.module or "", [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("mesh_sdk")]
    return found


def test_every_product_with_code_is_checked() -> None:
    assert len(CODE) >= 7


@pytest.mark.parametrize("path", CODE, ids=lambda p: p.parent.name)
def test_a_product_imports_only_the_public_api(path: Path) -> None:
    for module, names in _sdk_imports(path):
        assert module == "mesh_sdk", f"{path}: imports {module}; import from mesh_sdk (its __all__) instead"
        assert set(names) <= set(mesh_sdk.__all__), f"{path}: {sorted(set(names) - set(mesh_sdk.__all__))}"
