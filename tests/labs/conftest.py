"""The mesh the labs run on: one of their own (ports 21600+, or MESH_LABS_BASE_PORT), empty at first;
each lab starts what its profile needs, and everything is stopped and deleted after the last of them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_config import MeshSettings
from mesh_labs.sandbox import private_mesh
from mesh_stack.isolated import isolated_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="package")
def lab_mesh() -> Iterator[MeshSettings]:
    """A mesh of its own, on which the labs run one after the other (the labs that edit files edit
    copies). The catalog re-reads products and they report their runs more often than a learner's mesh
    does: the checks wait on what the catalog has seen, and a test should not wait on a timer."""
    base = int(os.environ.get("MESH_LABS_BASE_PORT", "21600"))
    settings = isolated_settings(f"test-labs-{base}", base).replaced(
        labs_dir=REPO / "labs", product_catalog_pull_s=3.0, lineage_every_s=5.0
    )
    with private_mesh(settings) as mesh:
        yield mesh
