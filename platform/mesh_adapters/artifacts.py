"""A product's versioned artifacts on S3 (a trained model, its card): one folder per version under
`<bucket>/<domain>/<product>/`, written once and never overwritten."""

from __future__ import annotations

from mesh_adapters.s3 import ensure_bucket, s3_client
from mesh_config import MeshSettings

NAME_CHECK = "-"


class S3ArtifactStore:
    def __init__(self, settings: MeshSettings, prefix: str) -> None:
        self.bucket = settings.artifacts_bucket
        self.prefix = prefix.strip("/")
        self.client = s3_client(settings)
        ensure_bucket(self.client, self.bucket)

    def _key(self, version: str, name: str) -> str:
        for part in (version, name):
            if not part or "/" in part or part in (".", ".."):
                raise ValueError(f"an artifact version or name is one path segment, not {part!r}")
        return f"{self.prefix}/{version}/{name}"

    def put(self, version: str, name: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        key = self._key(version, name)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return f"s3://{self.bucket}/{key}"

    def get(self, version: str, name: str) -> bytes:
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(version, name))["Body"]
        return body.read()

    def delete(self, version: str) -> None:
        """Every file of a version (the platform's own bookkeeping: a derivation's older states)."""
        self._key(version, NAME_CHECK)  # a version is one path segment
        prefix = f"{self.prefix}/{version}/"
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        for item in listed:
            self.client.delete_object(Bucket=self.bucket, Key=item["Key"])

    def versions(self) -> list[str]:
        """The versions stored, oldest first (versions sort by name)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/", Delimiter="/"
        )
        found = [p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for page in pages for p in page.get("CommonPrefixes", [])]
        return sorted(found)
