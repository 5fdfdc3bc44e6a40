"""Fixtures of the integration tests that run on the whole mesh (`running_mesh`, in the root conftest)."""

from __future__ import annotations

import pytest

from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_testing.mesh import RunningMesh


@pytest.fixture(scope="module")
def customers(running_mesh: RunningMesh) -> SourceAlignedRuntime:
    """subscriptions.customers of the running mesh: its REST, GraphQL and SQL ports, PII among its columns."""
    runtime: SourceAlignedRuntime = running_mesh["subscriptions.customers"]
    return runtime
