"""The mesh the fault catalogue runs on: one of its own (ports 22300+, or MESH_FAULTS_MESH_BASE_PORT),
apart from the labs' so that both run at once; each fault starts what it needs."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mesh_config import MeshSettings
from mesh_labs.sandbox import private_mesh
from mesh_stack.isolated import isolated_settings


@pytest.fixture(scope="package")
def fault_mesh() -> Iterator[MeshSettings]:
    base = int(os.environ.get("MESH_FAULTS_MESH_BASE_PORT", "22300"))
    with private_mesh(isolated_settings(f"test-faults-{base}", base)) as mesh:
        yield mesh
