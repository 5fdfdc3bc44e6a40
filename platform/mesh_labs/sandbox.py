"""A lab mesh whose labs edit copies: some labs change the repository's files as a learner would
(governance/policies.yaml, a product's descriptor); a test or a benchmark gives them copies instead."""

from __future__ import annotations

import shutil

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
