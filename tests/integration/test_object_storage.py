"""S3 object storage: the lakehouse bucket and the Object Lock bucket of the audit log."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from botocore.exceptions import ClientError

from mesh_adapters.s3 import s3_client
from mesh_config import MeshSettings

pytestmark = pytest.mark.integration


def test_put_get_list(mesh_services: MeshSettings) -> None:
    s3 = s3_client(mesh_services)
    prefix = f"tests/{uuid.uuid4().hex[:8]}/"
    for i in range(3):
        s3.put_object(Bucket=mesh_services.warehouse_bucket, Key=f"{prefix}part-{i}.txt", Body=f"row {i}".encode())

    listed = s3.list_objects_v2(Bucket=mesh_services.warehouse_bucket, Prefix=prefix)
    body = s3.get_object(Bucket=mesh_services.warehouse_bucket, Key=f"{prefix}part-1.txt")["Body"].read()

    assert sorted(o["Key"] for o in listed.get("Contents", [])) == [f"{prefix}part-{i}.txt" for i in range(3)]
    assert body == b"row 1"


def test_a_locked_object_version_cannot_be_deleted(mesh_services: MeshSettings) -> None:
    s3 = s3_client(mesh_services)
    bucket = mesh_services.audit_bucket
    key = f"tests/{uuid.uuid4().hex[:8]}/record.json"
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    put = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=b'{"seq": 1}',
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )
    version = put["VersionId"]

    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version)

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    still_there = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    assert still_there == b'{"seq": 1}'
    retention = s3.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
