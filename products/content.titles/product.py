"""content.titles: the domain logic. Each outbox event carries a title's whole new state; this says
what it means for the catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh_sdk import BatchContext, parse_timestamp

# A retired title stays in the catalogue, unavailable: viewing history still refers to it.
OPERATION = {"TitleCreated": "c", "TitleUpdated": "u", "TitleRetired": "u"}


def transform(event: Mapping[str, Any], batch: BatchContext) -> Mapping[str, Any]:
    title = event["after"]
    if event["event_type"] not in OPERATION:
        raise ValueError(f"unknown title event type {event['event_type']!r} (expected one of {sorted(OPERATION)})")
    genres = list(title["genres"])
    return {
        **title,
        "genres": ",".join(genres),
        "primary_genre": genres[0] if genres else None,
        "updated_at": parse_timestamp(title["updated_at"]),
        "op": OPERATION[event["event_type"]],
    }
