"""The platform's own columns of a history row, filled by the SDK so a product's logic says only what
is its own. A column is filled when the contract's history table declares it and the product's
`transform` left it out (a product may still set one itself, as content.titles sets `op` from its
events' types):

    ingested_at   when the micro-batch was written (every source-aligned product)
    op            c, u, d or r: what the change did             } a captured change
    position      where the change sits in the source's log    } (mesh_sdk.ingest.changes),
    changed_at    when the source committed it                 } for products with a `cdc`
    event_id      the outbox event's id                        } input port
    event_type    the outbox event's type                      }
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from mesh_sdk.spec.logic import BatchContext, Skip, Transform

# history column -> the field of a captured change (mesh_sdk.ingest.changes) it comes from
FROM_CHANGE = {
    "op": "op",
    "position": "position",
    "changed_at": "committed_at",
    "event_id": "event_id",
    "event_type": "event_type",
}
INGESTED_AT = "ingested_at"


def platform_values(
    record: Mapping[str, Any], context: BatchContext, columns: Collection[str], captured: bool
) -> dict[str, Any]:
    """The platform columns among `columns`, for one input record (a captured change when `captured`)."""
    values: dict[str, Any] = {INGESTED_AT: context.ingested_at} if INGESTED_AT in columns else {}
    if captured:
        values |= {column: record.get(field) for column, field in FROM_CHANGE.items() if column in columns}
    return values


def with_platform_columns(transform: Transform, columns: Collection[str], captured: bool) -> Transform:
    """`transform`, its rows completed with the platform columns it did not set itself."""
    declared = frozenset(columns)
    if not declared & {INGESTED_AT, *FROM_CHANGE}:
        return transform

    def completed(record: Mapping[str, Any], context: BatchContext) -> Mapping[str, Any] | Skip | None:
        row = transform(record, context)
        if row is None or isinstance(row, Skip):
            return row
        return platform_values(record, context, declared, captured) | dict(row)

    return completed
