"""Fixtures named after what they start: the CRM captured by Debezium, and the product."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesh_config import MeshSettings
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sources.crm_seed import CONTACT_COLUMNS
from mesh_testing.products import http_client, rows_by_key, running_product

FOLDER = Path(__file__).resolve().parents[1]
COLUMNS = CONTACT_COLUMNS  # every column of the CRM's contacts, compared with the product's


@pytest.fixture(scope="module")
def contacts_product(crm_capture: MeshSettings) -> Iterator[SourceAlignedRuntime]:
    with running_product(FOLDER, crm_capture, batch_interval_s=0.3, observe_interval_s=1.0) as rt:
        yield rt


@pytest.fixture(scope="module")
def http(contacts_product: SourceAlignedRuntime) -> Iterator[httpx.Client]:
    with http_client(contacts_product, 30) as client:
        yield client


def database_contacts(settings: MeshSettings) -> dict[int, dict[str, Any]]:
    return rows_by_key(settings.postgres_dsn(settings.crm_db), "contacts", COLUMNS)
