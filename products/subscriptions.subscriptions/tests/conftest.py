"""Fixtures named after what they start: the product, on the captured legacy monolith."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh_config import MeshSettings
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_testing.products import rows_by_key, running_product

FOLDER = Path(__file__).resolve().parents[1]
COLUMNS = ("subscription_id", "customer_id", "plan_id", "status", "started_at", "cancelled_at", "updated_at")


@pytest.fixture(scope="module")
def subscriptions_product(legacy_capture: MeshSettings) -> Iterator[SourceAlignedRuntime]:
    with running_product(FOLDER, legacy_capture, batch_interval_s=0.3, observe_interval_s=1.0) as rt:
        yield rt


def database_subscriptions(settings: MeshSettings) -> dict[int, dict[str, Any]]:
    return rows_by_key(settings.postgres_dsn(settings.legacy_db), "subscriptions", COLUMNS)
