"""S3 object storage (SeaweedFS here, MinIO in compose, any S3 elsewhere)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.client import Config
from botocore.exceptions import ClientError

from mesh_config import MeshSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def s3_client(settings: MeshSettings, timeout_s: float = 10.0) -> S3Client:
    # Path-style addressing: bucket-in-hostname needs DNS that loopback does not have.
    config = Config(
        s3={"addressing_style": "path"},
        connect_timeout=timeout_s,
        read_timeout=max(timeout_s, 30.0),
        retries={"max_attempts": 2, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_url,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
        region_name=settings.s3_region,
        config=config,
    )


def ensure_bucket(client: S3Client, bucket: str, *, object_lock: bool = False) -> None:
    """Create the bucket if missing. Object Lock can only be switched on at creation (as on AWS)."""
    try:
        client.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    try:
        if object_lock:
            client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
        else:
            client.create_bucket(Bucket=bucket)
    except ClientError as exc:
        # Two products starting side by side may both find it missing: the later one's create says so.
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise
