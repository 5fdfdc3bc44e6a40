"""Fixtures: customer-360 mastering the monolith's customers and the CRM's contacts, as the whole
mesh runs them (shared with the other products' tests, started once per session)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesh_config import MeshSettings
from mesh_testing.mesh import RunningMesh
from mesh_testing.products import http_client

FOLDER = Path(__file__).resolve().parents[1]


@dataclass
class Mastering:
    settings: MeshSettings
    customers: Any  # subscriptions.customers' runtime
    contacts: Any  # crm.contacts'
    hub: Any  # customers.customer-360's


@pytest.fixture
def mastering(running_mesh: RunningMesh) -> Mastering:
    mesh = running_mesh
    return Mastering(mesh.settings, mesh["subscriptions.customers"], mesh["crm.contacts"], mesh[FOLDER.name])


@pytest.fixture
def http(mastering: Mastering) -> Iterator[httpx.Client]:
    with http_client(mastering.hub, 60) as client:
        yield client
