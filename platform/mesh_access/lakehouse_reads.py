"""What consumers read straight from the lakehouse, for the audit trail. The object store reports each
request it served (who, which object, the answer); a consumer's S3 user is `consumer-<id>`. A query
reads a table's metadata, then some of its data files: the requests are summed per consumer, table and
outcome, and the rows are those of the data files read. Pure: request records in, reads out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CONSUMER_USER_PREFIX = "consumer-"
_OBJECT_READS = {"REST.GET.OBJECT", "REST.HEAD.OBJECT"}


@dataclass(frozen=True)
class ObjectRequest:
    at: datetime
    consumer: str
    path: str  # bucket/key
    status: int
    error: str = ""

    @property
    def data_file(self) -> bool:
        return "/data/" in self.path and self.path.endswith(".parquet")


def object_request(record: Mapping[str, Any]) -> ObjectRequest | None:
    """A consumer's read of one object, from the object store's record of a request (None: someone
    else's request, or not a read of an object)."""
    requester, operation = record.get("requester"), record.get("operation")
    bucket, key = record.get("bucket"), record.get("key")
    if not isinstance(requester, str) or not requester.startswith(CONSUMER_USER_PREFIX):
        return None
    if operation not in _OBJECT_READS or not isinstance(bucket, str) or not isinstance(key, str) or not key:
        return None
    when = record.get("time")
    at = datetime.fromtimestamp(when, UTC) if isinstance(when, int | float) else datetime.now(UTC)
    status = record.get("status")
    return ObjectRequest(
        at,
        requester.removeprefix(CONSUMER_USER_PREFIX),
        f"{bucket}/{key.lstrip('/')}",
        status if isinstance(status, int) else 0,
        str(record.get("error_code") or ""),
    )


@dataclass(frozen=True)
class LakehouseRead:
    consumer: str
    product: str
    table: str  # the table's location, s3://bucket/path
    outcome: str  # read, or denied
    at: datetime  # the last request
    requests: int
    data_files: tuple[str, ...] = field(default=())  # s3:// paths of the data files read
    status: int = 200
    reason: str = ""


def lakehouse_reads(requests: Iterable[ObjectRequest], tables: Mapping[str, str]) -> list[LakehouseRead]:
    """The requests summed per consumer, table (`tables`: location → product) and outcome. Objects of no
    product's table are left out: what a consumer may read is only ever tables."""
    prefixes = sorted(((loc.removeprefix("s3://").rstrip("/") + "/", loc) for loc in tables), reverse=True)
    groups: dict[tuple[str, str, bool], list[ObjectRequest]] = {}
    for request in requests:
        location = next((loc for prefix, loc in prefixes if request.path.startswith(prefix)), None)
        if location is not None:
            groups.setdefault((request.consumer, location, request.status < 400), []).append(request)
    found = []
    for (consumer, location, allowed), group in sorted(groups.items()):
        files = sorted({f"s3://{r.path}" for r in group if r.data_file}) if allowed else []
        refused = group[-1]
        found.append(
            LakehouseRead(
                consumer,
                tables[location],
                location,
                "read" if allowed else "denied",
                max(r.at for r in group),
                len(group),
                tuple(files),
                200 if allowed else refused.status,
                "" if allowed else refused.error or f"HTTP {refused.status}",
            )
        )
    return found
