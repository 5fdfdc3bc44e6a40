"""Fixtures named after what they start: the legacy monolith captured by Debezium, and the product."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesh_config import MeshSettings
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sources.legacy_seed import CUSTOMER_COLUMNS
from mesh_testing.products import http_client, rows_by_key, running_product

FOLDER = Path(__file__).resolve().parents[1]
SEEDED_CUSTOMERS = 300  # as the root conftest seeds the legacy database
COLUMNS = CUSTOMER_COLUMNS  # every column of the monolith's customers, compared with the product's


@pytest.fixture(scope="module")  # one instance at a time: the fault tests start their own
def customers_product(legacy_capture: MeshSettings) -> Iterator[SourceAlignedRuntime]:
    with running_product(FOLDER, legacy_capture, batch_interval_s=0.3, observe_interval_s=1.0) as rt:
        yield rt


@pytest.fixture(scope="module")
def http(customers_product: SourceAlignedRuntime) -> Iterator[httpx.Client]:
    with http_client(customers_product, 30) as client:
        yield client


def database_customers(settings: MeshSettings) -> dict[int, dict[str, Any]]:
    return rows_by_key(settings.postgres_dsn(settings.legacy_db), "customers", COLUMNS)
