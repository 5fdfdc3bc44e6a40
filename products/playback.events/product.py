"""playback.events: the domain logic. The platform validates, deduplicates and stores, and stamps each
row with when it was written (`ingested_at`); a valid telemetry event is a history row as it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh_sdk import BatchContext


def transform(event: Mapping[str, Any], batch: BatchContext) -> Mapping[str, Any]:
    """A valid telemetry event becomes one history row."""
    return event
