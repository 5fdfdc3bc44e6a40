"""A lab mesh whose labs edit copies: some labs change the repository's files as a learner would
(governance/policies.yaml, a product's descriptor); a test or a benchmark gives them copies instead."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from mesh_config import MeshSettings


def with_own_files(settings: MeshSettings) -> MeshSettings:
    """The same settings, with the product folders and the policies copied under the state directory
    (taken afresh: call it after the state was reset)."""
    products = settings.home / "files" / "products"
    policies = settings.home / "files" / "governance" / "policies.yaml"
    shutil.rmtree(products, ignore_errors=True)
    shutil.copytree(settings.products_dir, products, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    policies.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.policies_file, policies)
    return settings.replaced(products_dir=products, policies_file=policies)


@contextmanager
def private_mesh(settings: MeshSettings) -> Iterator[MeshSettings]:
    """A mesh of its own for a test run or a benchmark, empty at first, with its own files; whatever its
    labs or faults start is stopped, and its state deleted, at the end."""
    from mesh_stack import Stack
    from mesh_stack.audit_service import stop_audit
    from mesh_stack.catalog_service import stop_catalog
    from mesh_stack.products import stop_products
    from mesh_stack.toxiproxy import stop_toxiproxy

    stack = Stack(settings)
    stop_toxiproxy(settings)  # one a crashed run left would hold its ports once its pid file is gone
    stack.reset()
    try:
        yield with_own_files(settings)
    finally:
        stop_products(settings)
        stop_toxiproxy(settings)
        stop_audit(settings)
        stop_catalog(settings)
        stack.reset()
