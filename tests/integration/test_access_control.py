"""Access control on every port of a running product, through the real path: identities and grants
made at the catalog's access API, published on the control topic, enforced by the product on REST,
GraphQL, POST /sql and the PostgreSQL port, and every access appended to the audit log."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import psycopg
import pyarrow.parquet as pq
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from mesh_adapters.avro import AvroWireReader
from mesh_adapters.lakehouse import iceberg_catalog
from mesh_audit.log_table import AuditTable
from mesh_audit.service import AuditService
from mesh_config.naming import ProductName
from mesh_sdk.access.gate import ACCESS_TOPIC
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_testing.mesh import RunningMesh
from mesh_testing.products import eventually

pytestmark = pytest.mark.integration
MASK = "***"


@dataclass
class Consumers:
    """Keys of: `masked` (a grant without PII), `pii` (a grant with PII), `owner` (no grant here)."""

    masked: str
    pii: str
    owner: str
    names: dict[str, str]


@pytest.fixture(scope="module")
def catalog_api(running_mesh: RunningMesh) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_mesh.catalog.url, timeout=30) as client:
        yield client


def _create(api: httpx.Client, token: str, consumer: str, team: str) -> str:
    made = api.post("/access/consumers", json={"id": consumer, "team": team}, headers=_bearer(token))
    assert made.status_code == 201, made.text
    key: str = made.json()["api_key"]
    return key


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def consumers(running_mesh: RunningMesh, catalog_api: httpx.Client, customers: SourceAlignedRuntime) -> Consumers:
    token = running_mesh.catalog.platform_token
    tag = uuid.uuid4().hex[:6]
    names = {"masked": f"analyst-{tag}", "pii": f"support-{tag}", "owner": f"subs-owner-{tag}"}
    masked = _create(catalog_api, token, names["masked"], "Marketing analytics")
    pii = _create(catalog_api, token, names["pii"], "Customer support")
    owner = _create(catalog_api, token, names["owner"], customers.product.descriptor.owner.team)
    assert catalog_api.post("/access/consumers", json={"id": "x", "team": "t"}).status_code == 401
    for key, with_pii in ((masked, False), (pii, True)):
        asked = catalog_api.post(
            "/access/requests",
            json={"product": "subscriptions.customers", "purpose": "churn analysis", "pii": with_pii},
            headers=_bearer(key),
        )
        assert asked.status_code == 201, asked.text
        refused = catalog_api.post(f"/access/requests/{asked.json()['id']}/approve", json={}, headers=_bearer(key))
        assert refused.status_code == 403, "only the owning team approves"
        approved = catalog_api.post(f"/access/requests/{asked.json()['id']}/approve", json={}, headers=_bearer(owner))
        assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    return Consumers(masked, pii, owner, names)


def _rest(runtime: SourceAlignedRuntime, key: str | None, path: str = "/customers", **params: Any) -> httpx.Response:
    headers = _bearer(key) if key else {}
    return httpx.get(f"http://127.0.0.1:{runtime.options.http_port}{path}", params=params, headers=headers, timeout=30)


def _graphql(runtime: SourceAlignedRuntime, key: str | None, query: str) -> httpx.Response:
    headers = _bearer(key) if key else {}
    url = f"http://127.0.0.1:{runtime.options.http_port}/graphql"
    return httpx.post(url, json={"query": query}, headers=headers, timeout=30)


def _dsn(runtime: SourceAlignedRuntime, user: str, password: str) -> str:
    return f"postgresql://{user}:{password}@127.0.0.1:{runtime.options.sql_port}/subscriptions?connect_timeout=10"


def _table(runtime: SourceAlignedRuntime) -> str:
    return runtime.product.descriptor.table(runtime.product.served_port)


@pytest.fixture(scope="module")
def published(customers: SourceAlignedRuntime, consumers: Consumers) -> Consumers:
    """Once the product has the catalog's access list (the control topic takes a moment)."""
    eventually(lambda: _rest(customers, consumers.pii, limit=1).status_code == 200, attempts=100, pause_s=0.3)
    return consumers


def test_every_port_refuses_a_missing_or_invalid_key(customers: SourceAlignedRuntime, published: Consumers) -> None:
    for key in (None, "", "mk_aaaaaaaaaaaa_" + "A" * 43, "garbage"):
        answer = _rest(customers, key)
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert _graphql(customers, key, "{ customers(first: 1) { items { email } } }").status_code == 401
        assert _rest(customers, key, "/customers/1").status_code == 401
    sql = httpx.post(f"http://127.0.0.1:{customers.options.http_port}/sql", json={"sql": "SELECT 1"}, timeout=30)
    assert sql.status_code == 401
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):  # its SCRAM proof fails
        psycopg.connect(_dsn(customers, published.names["pii"], "mk_aaaaaaaaaaaa_" + "A" * 43))
    with pytest.raises(psycopg.OperationalError, match=r"no API key|password"):
        psycopg.connect(_dsn(customers, published.names["pii"], ""))
    with pytest.raises(psycopg.OperationalError, match="no API key here: the user name is the consumer id"):
        psycopg.connect(_dsn(customers, "someone-else", published.pii))
    assert _rest(customers, None, "/health").status_code == 200, "the product still serves"


def test_a_consumer_without_a_grant_is_forbidden_on_every_port(
    customers: SourceAlignedRuntime, published: Consumers
) -> None:
    answer = _rest(customers, published.owner)
    assert answer.status_code == 403 and "mesh access request" in answer.json()["detail"]
    assert _graphql(customers, published.owner, "{ customers(first: 1) { items { email } } }").status_code == 403
    with pytest.raises(psycopg.OperationalError, match="no grant"):
        psycopg.connect(_dsn(customers, published.names["owner"], published.owner))


def test_pii_is_masked_without_a_pii_grant_and_the_same_on_every_port(
    customers: SourceAlignedRuntime, published: Consumers
) -> None:
    table = _table(customers)
    for key, name, masked in ((published.masked, "masked", True), (published.pii, "pii", False)):
        rows = _rest(customers, key, limit=5, sort="customer_id").json()["items"]
        assert rows, "the product holds customers"
        first = rows[0]
        assert (first["email"] == MASK) is masked and (first["full_name"] == MASK) is masked
        assert first["customer_id"] is not None, "keys are never masked"
        looked_up = _rest(customers, key, f"/customers/{first['customer_id']}").json()
        data = _graphql(
            customers, key, f'{{ customersByKey(key: "{first["customer_id"]}") {{ email fullName birthYear }} }}'
        ).json()["data"]["customersByKey"]
        sql_http = httpx.post(
            f"http://127.0.0.1:{customers.options.http_port}/sql",
            json={
                "sql": f"SELECT email, birth_year FROM {table} WHERE customer_id = $1",
                "params": [first["customer_id"]],
            },
            headers=_bearer(key),
            timeout=30,
        ).json()["rows"][0]
        with psycopg.connect(_dsn(customers, published.names[name], key)) as conn:
            wire = conn.execute(
                f"SELECT email, birth_year FROM {table} WHERE customer_id = %s", [first["customer_id"]]
            ).fetchone()
        assert looked_up["email"] == data["email"] == sql_http[0] == (wire or [None])[0] == first["email"]
        assert (looked_up["birth_year"] is None) is masked and (wire or [0, None])[1] == looked_up["birth_year"]
        filtered = _rest(customers, key, email=first["email"]).json()["items"]
        assert masked or filtered, "a PII grant can filter on PII"


def test_a_revoked_key_is_shut_out_of_every_port_even_an_open_session(
    running_mesh: RunningMesh, catalog_api: httpx.Client, customers: SourceAlignedRuntime, published: Consumers
) -> None:
    # A key of its own, so the other tests keep theirs.
    rotated = catalog_api.post(
        f"/access/consumers/{published.names['masked']}/keys",
        json={"grace_seconds": 3600},
        headers=_bearer(published.masked),
    )
    assert rotated.status_code == 201, rotated.text
    doomed = rotated.json()["api_key"]
    eventually(lambda: _rest(customers, doomed, limit=1).status_code == 200, attempts=100, pause_s=0.3)
    session = psycopg.connect(_dsn(customers, published.names["masked"], doomed), autocommit=True)
    assert session.execute("SELECT 1").fetchone() == (1,)
    key_id = doomed.split("_")[1]
    assert catalog_api.delete(f"/access/keys/{key_id}", headers=_bearer(doomed)).status_code == 200
    eventually(lambda: _rest(customers, doomed).status_code == 401, attempts=100, pause_s=0.3)
    assert "revoked" in _rest(customers, doomed).json()["detail"]
    assert _graphql(customers, doomed, "{ customers(first: 1) { items { email } } }").status_code == 401
    with pytest.raises(psycopg.Error, match="revoked"):
        session.execute(f"SELECT count(*) FROM {_table(customers)}")
    session.close()
    with pytest.raises(psycopg.OperationalError, match="revoked"):
        psycopg.connect(_dsn(customers, published.names["masked"], doomed))
    assert _rest(customers, published.masked, limit=1).status_code == 200, "the grace period keeps the old key"


def test_every_data_access_is_appended_to_the_audit_log(running_mesh: RunningMesh, published: Consumers) -> None:
    """An audit service of this test's own (its own table and objects) reads the access topic."""
    tag = uuid.uuid4().hex[:8]
    settings = running_mesh.settings
    service = AuditService(
        settings,
        table_name=f"mesh.audit_access_{tag}_v1",
        object_prefix=f"tests/{tag}/chain/",
        cdc_pattern=rf"^cdc\.none{tag}$",
        stream_pattern=rf"^none{tag}\.x\.stream\.v1$",
        deadletter_topic=f"mesh.audit.test-{tag}.dlq",
        group_id=f"audit-access-{tag}",
        metadata_refresh_ms=1000,
    )
    service.start()
    try:
        who = published.names["masked"]

        def recorded() -> list[Any]:
            service.step()
            table = AuditTable.load(iceberg_catalog(settings), f"mesh.audit_access_{tag}_v1")
            return [r for r in table.records() if r.entity_key == who]

        wanted = {"read:rest", "read:graphql", "read:sql", "read:sql_http"}

        def all_ports() -> list[Any] | None:
            found = recorded()
            return found if {r.operation for r in found} >= wanted else None

        records = eventually(all_ports, attempts=60, pause_s=0.5)
    finally:
        service.stop()
        service.close()
    product = running_mesh["subscriptions.customers"].product.id
    assert all(r.source == "mesh.access" and r.source_table == product for r in records)
    listed = [r for r in records if r.operation == "read:rest" and '"resource":"customers"' in (r.detail or "")]
    assert any('"rows":5' in (r.detail or "") for r in listed), [r.detail for r in records]
    assert all(r.expected_hash() == r.hash for r in records)


def _stream(settings: Any, user: str, key: str, topic: str) -> tuple[int, str | None]:
    """Messages a consumer reads from the start of `topic` within a few seconds, and the error if any."""
    read, error = _records(settings, user, key, topic)
    return len(read), error


def _records(settings: Any, user: str, key: str, topic: str) -> tuple[list[dict[str, Any]], str | None]:
    """Up to five records a consumer reads from the start of `topic`, decoded, and the error if any."""
    decode = AvroWireReader(SchemaRegistryClient({"url": settings.schema_registry_url}))
    # A group of its own each time: a group that committed before would resume there, not at the start.
    group = f"{user}.tests-{uuid.uuid4().hex[:8]}"
    consumer = Consumer({**settings.kafka_client(user, key), "group.id": group, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    read: list[dict[str, Any]] = []
    error = None
    try:
        for _ in range(40):
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error() is not None:
                error = message.error().name()
                break
            read.append(decode(message.value()))
            if len(read) >= 5:
                break
    finally:
        consumer.close()
    return read, error


def _access_records(settings: Any, consumer: str) -> list[dict[str, Any]]:
    """What the access log (`mesh.access`, read to its end) holds of `consumer`'s accesses."""
    reader = Consumer({**settings.kafka_client(), "group.id": f"tests-{uuid.uuid4()}", "auto.offset.reset": "earliest"})
    reader.subscribe([ACCESS_TOPIC])
    found, quiet = [], 0
    try:
        while quiet < 3:  # the first polls wait for the assignment
            message = reader.poll(2.0)
            if message is None:
                quiet += 1
                continue
            quiet = 0
            if message.error() is None and message.key() == consumer.encode():
                found.append(json.loads(message.value() or b"{}"))
    finally:
        reader.close()
    return found


def _kafka_reads(settings: Any, consumer: str, topic: str) -> int:
    """Records of `topic` the access log says `consumer` read on Kafka."""
    events = _access_records(settings, consumer)
    return sum(int(e["rows"]) for e in events if e.get("port") == "kafka" and e.get("resource") == topic)


def _authenticates(settings: Any, user: str, key: str) -> bool:
    try:
        AdminClient({**settings.kafka_client(user, key), "log_level": 0}).list_topics(timeout=5)
    except KafkaException:
        return False
    return True


def test_kafka_takes_the_same_key_and_allows_what_the_grants_allow(
    running_mesh: RunningMesh, catalog_api: httpx.Client, customers: SourceAlignedRuntime, published: Consumers
) -> None:
    settings, names = running_mesh.settings, published.names
    topic = customers.stream_topic
    assert _stream(settings, names["pii"], published.pii, topic)[0] > 0, "a grant with PII reads the stream"
    # The broker reports no reads: the catalog records them from the consumer's group's offsets.
    eventually(lambda: _kafka_reads(settings, names["pii"], topic) > 0, attempts=30, pause_s=1)
    # The stream carries whole rows, personal data included: without a PII grant it stays closed. (The
    # consumer's Kafka password is its newest key: an earlier test revoked that one, so a fresh key.)
    masked = catalog_api.post(
        f"/access/consumers/{names['masked']}/keys", json={"grace_seconds": 3600}, headers=_bearer(published.masked)
    ).json()["api_key"]
    refused = {"TOPIC_AUTHORIZATION_FAILED", "GROUP_AUTHORIZATION_FAILED"}
    for user, key in ((names["masked"], masked), (names["owner"], published.owner)):
        read, error = _stream(settings, user, key, topic)
        assert read == 0 and error in refused, (user, error)
    # ... and its masked twin, which the product publishes beside it, is open: PII masked as on every port.
    twin = customers.masked.target if customers.masked else "no masked stream"
    records, error = _records(settings, names["masked"], masked, twin)
    assert records and error is None, error
    assert all(r["email"] == "***" and r["full_name"] == "***" and r["birth_year"] is None for r in records)
    assert all(r["customer_id"] is not None for r in records), "the rest of each row is kept"
    assert _stream(settings, names["owner"], published.owner, twin)[1] in refused, "no grant, no stream"
    full, _ = _records(settings, names["pii"], published.pii, topic)
    assert any(r["email"] != "***" for r in full), "a grant with PII reads whole rows"
    assert not _authenticates(settings, names["pii"], "mk_aaaaaaaaaaaa_" + "A" * 43)
    assert not _authenticates(settings, "nobody", published.pii)
    # A key of its own, revoked: the broker forgets the credential.
    rotated = catalog_api.post(
        f"/access/consumers/{names['pii']}/keys", json={"grace_seconds": 3600}, headers=_bearer(published.pii)
    ).json()["api_key"]
    assert _authenticates(settings, names["pii"], rotated) and not _authenticates(settings, names["pii"], published.pii)
    assert catalog_api.delete(f"/access/keys/{rotated.split('_')[1]}", headers=_bearer(rotated)).status_code == 200
    assert not _authenticates(settings, names["pii"], rotated)


def _consumer_s3(settings: Any, credentials: dict[str, str]) -> Any:
    """An S3 client with a consumer's lakehouse credentials (one attempt per request)."""
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_url,
        aws_access_key_id=credentials["access_key"],
        aws_secret_access_key=credentials["secret_key"],
        region_name=settings.s3_region,
        config=BotoConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def _s3_read(settings: Any, credentials: dict[str, str], bucket: str, key: str) -> str:
    """ "ok", or the S3 error code a consumer's credentials get for one object."""
    try:
        _consumer_s3(settings, credentials).get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def _s3_parquet(settings: Any, credentials: dict[str, str], bucket: str, key: str) -> list[dict[str, Any]]:
    """The rows of one Parquet data file, read with a consumer's credentials."""
    body = _consumer_s3(settings, credentials).get_object(Bucket=bucket, Key=key)["Body"].read()
    return list(pq.read_table(io.BytesIO(body)).to_pylist())


def _a_data_file_of(settings: Any, table: str) -> tuple[str, str, int]:
    """(bucket, key, rows) of one data file of an Iceberg table's current snapshot."""
    files = iceberg_catalog(settings).load_table(table).inspect.files().to_pylist()
    bucket, _, key = files[0]["file_path"].removeprefix("s3://").partition("/")
    return bucket, key, int(files[0]["record_count"])


def _a_file_of(settings: Any, table: str) -> tuple[str, str]:
    """(bucket, key) of one metadata file of an Iceberg table, found with the platform's credentials."""
    location = iceberg_catalog(settings).load_table(table).metadata_location.removeprefix("s3://")
    bucket, _, key = location.partition("/")
    return bucket, key


def test_lakehouse_credentials_read_only_the_granted_tables(
    running_mesh: RunningMesh, catalog_api: httpx.Client, customers: SourceAlignedRuntime, published: Consumers
) -> None:
    settings, names = running_mesh.settings, published.names
    playback = running_mesh["playback.events"]
    granted = _a_file_of(settings, _table(customers))
    other = _a_file_of(settings, playback.product.descriptor.table(playback.product.served_port))
    keys = {}
    for who, key in (("pii", published.pii), ("masked", published.masked)):
        fresh = catalog_api.post(
            f"/access/consumers/{names[who]}/keys", json={"grace_seconds": 3600}, headers=_bearer(key)
        ).json()["api_key"]
        made = catalog_api.post("/access/lakehouse-credentials", headers=_bearer(fresh))
        assert made.status_code == 201, made.text
        keys[who] = (fresh, made.json())
    pii_key, pii_s3 = keys["pii"]
    eventually(lambda: _s3_read(settings, pii_s3, *granted) == "ok", attempts=60, pause_s=0.5)
    assert _s3_read(settings, pii_s3, *other) == "AccessDenied", "a product it has no grant for"
    # The files hold whole rows: without a PII grant a product with PII stays closed here too ...
    assert _s3_read(settings, keys["masked"][1], *granted) == "AccessDenied"
    # ... but for the masked twins of its tables, which the product keeps beside them.
    twin = ProductName.of(customers.product.id).masked_table(customers.product.served_port)
    eventually(lambda: iceberg_catalog(settings).load_table(twin).current_snapshot(), attempts=60, pause_s=0.5)
    bucket, data_file, _ = _a_data_file_of(settings, twin)
    eventually(lambda: _s3_read(settings, keys["masked"][1], bucket, data_file) == "ok", attempts=60, pause_s=0.5)
    seen = _s3_parquet(settings, keys["masked"][1], bucket, data_file)
    assert seen and all(r["email"] == "***" and r["full_name"] == "***" and r["birth_year"] is None for r in seen)
    assert _s3_read(settings, pii_s3, bucket, data_file) == "ok", "a grant with PII reads the twins too"
    # The object store reports each request; the catalog appends the consumer's reads to the access log.
    bucket, data_file, rows = _a_data_file_of(settings, _table(customers))
    assert _s3_read(settings, pii_s3, bucket, data_file) == "ok"
    location = iceberg_catalog(settings).load_table(_table(customers)).location()

    def lakehouse_reads() -> list[dict[str, Any]] | None:
        events = [e for e in _access_records(settings, names["pii"]) if e.get("port") == "lakehouse"]
        read = [e for e in events if e["resource"] == location and e["outcome"] == "read"]
        refused = any(e["outcome"] == "denied" for e in events)
        return events if refused and sum(e["rows"] for e in read) == rows else None

    events = eventually(lakehouse_reads, attempts=30, pause_s=1)
    assert all(e["product"] == customers.product.id and e["pii"] for e in events if e["outcome"] == "read")
    denied = [e for e in events if e["outcome"] == "denied"]
    assert denied[0]["product"] == playback.product.id and denied[0]["status"] == 403, denied
    assert catalog_api.delete(f"/access/keys/{pii_key.split('_')[1]}", headers=_bearer(pii_key)).status_code == 200
    assert _s3_read(settings, pii_s3, *granted) == "InvalidAccessKeyId", "revoking the key revokes its S3 key"
