"""The mesh the labs and the faults run on: one of their own (ports 21600+, or MESH_LABS_BASE_PORT),
empty at first; each lab or fault starts what it needs, and everything is stopped and deleted after the
last of them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_config import MeshSettings
from mesh_labs.sandbox import with_own_files
from mesh_stack import Stack
from mesh_stack.audit_service import stop_audit
from mesh_stack.catalog_service import stop_catalog
from mesh_stack.isolated import isolated_settings
from mesh_stack.products import stop_products
from mesh_stack.toxiproxy import stop_toxiproxy

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="package")
def lab_mesh() -> Iterator[MeshSettings]:
    """A mesh of its own (ports 21600+), empty at first; each lab starts what its profile needs, and
    everything is stopped and deleted at the end."""
    # Another base port lets two runs share a machine without meeting (state and ports apart). The
    # catalog re-reads products and they report their runs more often than a learner's mesh does: the
    # checks wait on what the catalog has seen, and a test should not wait on a timer.
    base = int(os.environ.get("MESH_LABS_BASE_PORT", "21600"))
    settings = isolated_settings(f"test-labs-{base}", base).replaced(
        labs_dir=REPO / "labs", product_catalog_pull_s=3.0, lineage_every_s=5.0
    )
    stack = Stack(settings)
    stop_toxiproxy(settings)  # one a crashed run left would hold its ports once its pid file is gone
    stack.reset()
    yield with_own_files(settings)  # the labs that edit files (governance, a descriptor) edit copies
    stop_products(settings)
    stop_toxiproxy(settings)
    stop_audit(settings)
    stop_catalog(settings)
    stack.reset()
