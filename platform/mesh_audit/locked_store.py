"""The audit log's second store: the records as JSON-lines objects in an Object Lock bucket, each
version locked in COMPLIANCE mode, so that nobody (not even the bucket's owner) can delete or
overwrite it before its retention ends."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from mesh_audit.config import PREFIX, RETENTION_DAYS
from mesh_audit.record import AuditRecord, from_jsonl, to_jsonl

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_RETENTION = timedelta(days=RETENTION_DAYS)


@dataclass(frozen=True)
class ChainObject:
    key: str
    first: int
    last: int


@dataclass(frozen=True)
class ObjectContent:
    """One object's current version: its records, or why it could not be read."""

    obj: ChainObject
    records: list[AuditRecord]
    error: str | None = None


class LockedChainStore:
    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = PREFIX,
        retention: timedelta = DEFAULT_RETENTION,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.retention = retention
        self.clock = clock
        self._name = re.compile(re.escape(prefix) + r"(\d{20})-(\d{20})\.jsonl")

    def key(self, first: int, last: int) -> str:
        # Zero-padded: the bucket lists keys in sequence order.
        return f"{self.prefix}{first:020d}-{last:020d}.jsonl"

    def put(self, records: Sequence[AuditRecord]) -> str:
        """One object for a run of consecutive records, locked until now + retention."""
        key = self.key(records[0].sequence, records[-1].sequence)
        body = to_jsonl(records)
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/x-ndjson",
            # Object Lock writes must carry a checksum (as on AWS).
            ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode(),
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=self.clock() + self.retention,
        )
        return key

    def objects(self) -> list[ChainObject]:
        """Every chain object (current versions), in key order, which is sequence order."""
        found = []
        for key in self._keys():
            match = self._name.fullmatch(key)
            if match:
                found.append(ChainObject(key, int(match.group(1)), int(match.group(2))))
        return found

    def _keys(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                yield item["Key"]

    def frontier(self) -> int:
        """The highest sequence any object ever held, deleted ones included (0 when there are none).

        Delete markers count: the service writes objects only beyond this point, so a locked object
        someone hid behind a delete marker is reported by verify, never silently rewritten."""
        highest = 0
        paginator = self.client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                match = self._name.fullmatch(item.get("Key", ""))
                if match:
                    highest = max(highest, int(match.group(2)))
        return highest

    def check_object_lock(self) -> None:
        """Refuse a bucket without Object Lock: its objects could be deleted, which defeats the log."""
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("ObjectLockConfigurationNotFoundError", "NoSuchBucket"):
                raise RuntimeError(
                    f"bucket {self.bucket!r} {'does not exist' if code == 'NoSuchBucket' else 'has no Object Lock'}: "
                    "the audit log needs a bucket created with Object Lock (`mesh up` or `mesh init` makes one)"
                ) from None
            raise
        if config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise RuntimeError(f"bucket {self.bucket!r} has no Object Lock enabled")

    def read(self, obj: ChainObject) -> ObjectContent:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=obj.key)["Body"].read()
        except Exception as exc:
            return ObjectContent(obj, [], f"cannot be read: {exc}")
        try:
            return ObjectContent(obj, from_jsonl(body))
        except (ValueError, TypeError, KeyError) as exc:
            return ObjectContent(obj, [], f"is not JSON lines of audit records: {exc}")

    def read_all(self, objects: Sequence[ChainObject] | None = None, workers: int = 8) -> list[ObjectContent]:
        """Every object's records, in key order (read concurrently: there is one object per batch)."""
        listed = self.objects() if objects is None else list(objects)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self.read, listed))
