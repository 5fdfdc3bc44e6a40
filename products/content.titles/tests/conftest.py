"""Fixtures named after what they start: the content team's database captured through its outbox,
and the product."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh_config import MeshSettings
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_testing.products import rows_by_key, running_product

FOLDER = Path(__file__).resolve().parents[1]
SEEDED_TITLES = 120  # as the root conftest seeds the content database
COLUMNS = ("title_id", "name", "kind", "genres", "release_year", "duration_s", "maturity", "available", "updated_at")


@pytest.fixture(scope="module")
def titles_product(content_capture: MeshSettings) -> Iterator[SourceAlignedRuntime]:
    with running_product(FOLDER, content_capture, batch_interval_s=0.3, observe_interval_s=1.0) as rt:
        yield rt


def database_titles(settings: MeshSettings) -> dict[int, dict[str, Any]]:
    """The titles as the product describes them: genres comma-separated."""
    titles = rows_by_key(settings.postgres_dsn(settings.content_db), "titles", COLUMNS)
    for title in titles.values():
        title["genres"] = ",".join(title["genres"])
    return titles
