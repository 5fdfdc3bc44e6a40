"""playback.events: the domain logic. The platform validates, deduplicates and stores; this says
what a history row is made of."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh_sdk import BatchContext


def transform(event: Mapping[str, Any], batch: BatchContext) -> Mapping[str, Any]:
    """A valid telemetry event becomes one history row, stamped with when it was written."""
    return {**event, "ingested_at": batch.ingested_at}
