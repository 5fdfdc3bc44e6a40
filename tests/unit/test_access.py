"""Identities, keys, requests and grants, and the decision every port applies: no servers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mesh_access import AccessBook, AccessError, AccessList, AccessService, Denied, Readable, Status
from mesh_access.keys import hash_key, key_id_of
from mesh_audit.decode import ChangeReader, RawMessage
from mesh_audit.record import ChainHead, Change, link
from mesh_sdk.access.gate import AccessEvent, AccessGate
from tests.unit.test_catalog_column_lineage import MemoryStore

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
CUSTOMERS = "urn:mesh:subscriptions:customers:v1"
OWNERS = "Subscriptions team"


def book_with_grant(pii: bool = False) -> tuple[AccessBook, str, str]:
    """A book where `analyst` holds a grant on the customers product; its key, and the owner's key."""
    book = AccessBook()
    _, analyst_key = book.create_consumer("analyst", "Marketing analytics", "", NOW)
    owner, owner_key = book.create_consumer("subs-owner", "subscriptions TEAM", "", NOW)
    request = book.request("analyst", CUSTOMERS, "churn analysis", pii, NOW)
    book.decide(request.id, owner, OWNERS, True, "ok", NOW)
    return book, analyst_key, owner_key


def test_a_key_is_shown_once_and_only_its_hash_is_kept() -> None:
    book = AccessBook()
    _, key = book.create_consumer("analyst", "Marketing analytics", "", NOW)
    state = json.dumps(book.to_state())
    assert key not in state
    assert hash_key(key) in state
    assert str(key_id_of(key)) in state


def test_a_granted_consumer_is_let_in_and_pii_follows_the_grant() -> None:
    book, key, _ = book_with_grant(pii=False)
    access = book.access_list().authorize(key, CUSTOMERS, NOW)
    assert (access.consumer, access.pii, access.purposes) == ("analyst", False, ["churn analysis"])
    book, key, _ = book_with_grant(pii=True)
    assert book.access_list().authorize(key, CUSTOMERS, NOW).pii


@pytest.mark.parametrize(
    ("presented", "status", "words"),
    [
        (None, 401, "no API key"),
        ("", 401, "no API key"),
        ("not-a-key", 401, "malformed"),
        ("mk_aaaaaaaaaaaa_" + "x" * 43, 401, "not valid"),
    ],
)
def test_a_missing_malformed_or_unknown_key_is_refused(presented: str | None, status: int, words: str) -> None:
    book, _, _ = book_with_grant()
    with pytest.raises(Denied) as refused:
        book.access_list().authorize(presented, CUSTOMERS, NOW)
    assert refused.value.status == status and words in refused.value.message


def test_a_valid_key_without_a_grant_is_forbidden_and_told_how_to_ask() -> None:
    book, _, owner_key = book_with_grant()
    with pytest.raises(Denied) as refused:
        book.access_list().authorize(owner_key, CUSTOMERS, NOW)
    assert refused.value.status == 403 and "mesh access request" in refused.value.message


def test_a_revoked_key_and_a_key_past_its_grace_are_refused() -> None:
    book, key, _ = book_with_grant()
    new_key, replaced = book.rotate("analyst", NOW, timedelta(minutes=5))
    assert replaced == [key_id_of(key)]
    published = book.access_list()
    assert published.authorize(key, CUSTOMERS, NOW + timedelta(minutes=4)).consumer == "analyst"
    with pytest.raises(Denied, match="expired"):
        published.authorize(key, CUSTOMERS, NOW + timedelta(minutes=5))
    assert published.authorize(new_key, CUSTOMERS, NOW + timedelta(days=1)).consumer == "analyst"
    book.revoke_key(str(key_id_of(new_key)), NOW)
    with pytest.raises(Denied, match="revoked"):
        book.access_list().authorize(new_key, CUSTOMERS, NOW)


def test_only_the_owning_team_decides_and_a_revoked_grant_lets_nobody_in() -> None:
    book, key, _ = book_with_grant()
    outsider, _ = book.create_consumer("someone", "Content team", "", NOW)
    request = book.request("analyst", CUSTOMERS, "a second purpose", True, NOW)
    with pytest.raises(AccessError) as refused:
        book.decide(request.id, outsider, OWNERS, True, "", NOW)
    assert refused.value.status == 403
    grant = book.grants()[0]
    with pytest.raises(AccessError):
        book.revoke_grant(grant.id, outsider, OWNERS, "", NOW)
    book.revoke_grant(grant.id, book.consumer("subs-owner"), OWNERS, "project over", NOW)
    assert book.get_request(grant.id).status is Status.REVOKED
    with pytest.raises(Denied) as denied:
        book.access_list().authorize(key, CUSTOMERS, NOW)
    assert denied.value.status == 403


def test_requests_are_checked() -> None:
    book, _, _ = book_with_grant()
    with pytest.raises(AccessError, match="already asks"):
        book.request("analyst", CUSTOMERS, "churn analysis", False, NOW)
    with pytest.raises(AccessError, match="purpose"):
        book.request("analyst", CUSTOMERS, " ", False, NOW)
    with pytest.raises(AccessError, match="consumer id"):
        book.create_consumer("../etc/passwd", "x", "", NOW)


def test_the_book_and_the_published_list_survive_their_round_trips() -> None:
    book, key, _ = book_with_grant(pii=True)
    again = AccessBook.from_state(json.loads(json.dumps(book.to_state())))
    assert again.to_state() == book.to_state()
    published = AccessList.from_message(json.loads(json.dumps(book.access_list().to_message())))
    assert published.authorize(key, CUSTOMERS, NOW).pii


class Control:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.down = False

    def publish_access(self, message: dict[str, Any]) -> None:
        if self.down:
            raise RuntimeError("broker down")
        self.messages.append(message)


def owners(product: str) -> tuple[str, str]:
    if product in (CUSTOMERS, "subscriptions.customers"):
        return CUSTOMERS, OWNERS
    raise LookupError(product)


def test_the_service_keeps_and_publishes_every_change_and_retries_a_failed_publication() -> None:
    store, control = MemoryStore(), Control()
    service = AccessService(store, control, owners, clock=lambda: NOW)
    analyst, key = service.create_consumer("analyst", "Marketing analytics", "")
    owner, _ = service.create_consumer("subs-owner", OWNERS, "")
    request = service.request(analyst, "subscriptions.customers", "churn analysis", False)
    assert request.product == CUSTOMERS, "a folder name is resolved to the product's id"
    control.down = True
    service.decide(request.id, owner, approve=True)
    assert AccessBook.from_state(store.state or {}).grants(), "kept even though not yet published"
    control.down = False
    assert service.publish()
    published = AccessList.from_message(control.messages[-1])
    assert published.authorize(key, CUSTOMERS, NOW).consumer == "analyst"
    with pytest.raises(AccessError) as unknown:
        service.request(analyst, "nowhere.nothing", "x-files", False)
    assert unknown.value.status == 404
    reloaded = AccessService(store, None, owners, clock=lambda: NOW)
    assert reloaded.requests("approved")[0].id == request.id


class Recorder:
    def __init__(self) -> None:
        self.events: list[AccessEvent] = []

    def record(self, event: AccessEvent) -> None:
        self.events.append(event)


def test_the_gate_applies_the_published_list_masks_pii_and_records_each_access() -> None:
    book, key, owner_key = book_with_grant(pii=False)
    recorder = Recorder()
    gate = AccessGate(CUSTOMERS, {"email", "full_name"}, recorder)
    with pytest.raises(Denied):
        gate.check(key, "rest", "customers")  # nothing published yet: nobody is let in
    assert gate.apply_message(json.dumps(book.access_list().to_message()).encode())
    access = gate.check(key, "rest", "customers")
    assert gate.hidden(access) == {"email", "full_name"}
    gate.read(access, "rest", "customers", 7)
    with pytest.raises(Denied):
        gate.check(owner_key, "sql", "login")
    assert [(e.outcome, e.consumer, e.rows) for e in recorder.events] == [
        ("denied", None, 0),
        ("read", "analyst", 7),
        ("denied", "subs-owner", 0),
    ]
    assert not gate.apply_message(b"{not json")
    assert gate.check(key, "rest", "customers"), "an unreadable message leaves the list in force"
    local = gate.admit("notebook", pii=True)
    assert gate.hidden(gate.check(local, "graphql", "graphql")) == frozenset()


def test_an_access_record_joins_the_audit_chain_with_its_rows() -> None:
    event = AccessEvent(NOW, CUSTOMERS, "sql", "sha256:abc", "analyst", "k1", "read", rows=42, purposes=("churn",))
    message = RawMessage("mesh.access", 0, 7, None, b"analyst", json.dumps(event.to_json()).encode())
    change = ChangeReader(lambda raw: None).read(message)
    assert isinstance(change, Change)
    record = link(change, ChainHead(), NOW)
    assert (record.entity_key, record.source_table, record.operation) == ("analyst", CUSTOMERS, "read:sql")
    assert json.loads(record.detail or "{}")["rows"] == 42
    assert record.expected_hash() == record.hash
    garbage = ChangeReader(lambda raw: None).read(RawMessage("mesh.access", 0, 8, None, None, b"\xff{"))
    assert garbage is not None and "not JSON" in getattr(garbage, "reason", "")


def test_records_without_a_detail_hash_as_they_always_did() -> None:
    event = AccessEvent(NOW, CUSTOMERS, "rest", "customers", "analyst", "k1", "read")
    change = ChangeReader(lambda raw: None).read(
        RawMessage("mesh.access", 0, 1, None, None, json.dumps(event.to_json()).encode())
    )
    assert isinstance(change, Change)
    record = link(change, ChainHead(), NOW)
    plain = link(Change(NOW, "cdc.x", None, "1", "c", None, None, "kafka://cdc.x/0/1"), ChainHead(), NOW)
    assert "detail" in record.to_json() and "detail" not in plain.to_json()


class FakeBroker:
    def __init__(self) -> None:
        self.passwords: dict[str, str] = {}
        self.allowed: dict[str, set[str]] = {}

    def set_password(self, consumer: str, key: str) -> None:
        self.passwords[consumer] = key

    def remove(self, consumer: str) -> None:
        self.passwords.pop(consumer, None)

    def allow(self, topics: Mapping[str, set[str]]) -> None:
        self.allowed = {c: set(t) for c, t in topics.items()}


def test_kafka_gets_the_newest_key_and_acls_follow_the_grants_and_pii() -> None:
    broker = FakeBroker()
    streams = {
        CUSTOMERS: Readable(["subscriptions.customers.stream.v1"], True, ["subscriptions.customers.stream-masked.v1"])
    }

    def topics(product: str) -> Readable:
        return streams[product]

    service = AccessService(MemoryStore(), Control(), owners, clock=lambda: NOW, broker=broker, topics=topics)
    masked, masked_key = service.create_consumer("analyst", "Marketing analytics", "")
    support, support_key = service.create_consumer("support", "Customer care", "")
    owner, _ = service.create_consumer("subs-owner", OWNERS, "")
    assert broker.passwords["analyst"] == masked_key
    for consumer, pii in ((masked, False), (support, True)):
        service.decide(service.request(consumer, CUSTOMERS, "churn analysis", pii).id, owner, approve=True)
    assert broker.allowed == {
        "analyst": {"subscriptions.customers.stream-masked.v1"},  # the stream carries PII: its masked twin
        "support": {"subscriptions.customers.stream.v1", "subscriptions.customers.stream-masked.v1"},
        "subs-owner": set(),
    }
    new_key, _ = service.rotate("support", grace_s=60)
    assert broker.passwords["support"] == new_key, "Kafka holds one password: the newest key, at once"
    service.revoke_key(str(key_id_of(support_key)), None)
    assert broker.passwords["support"] == new_key, "revoking an older key leaves the newest in place"
    service.revoke_key(str(key_id_of(new_key)), None)
    assert "support" not in broker.passwords


def test_a_topic_a_granted_product_adds_later_is_opened_at_the_next_pull() -> None:
    broker = FakeBroker()
    streams = {CUSTOMERS: Readable(["subscriptions.customers.stream.v1"], False)}
    service = AccessService(MemoryStore(), Control(), owners, broker=broker, topics=lambda p: streams[p])
    support, _ = service.create_consumer("support", "Customer care", "")
    owner, _ = service.create_consumer("subs-owner", OWNERS, "")
    service.decide(service.request(support, CUSTOMERS, "care", False).id, owner, approve=True)
    streams[CUSTOMERS] = Readable(["subscriptions.customers.stream.v1", "subscriptions.customers.changes.v1"], False)
    service.publish()  # every pull; the book has not changed
    assert broker.allowed["support"] == {"subscriptions.customers.stream.v1", "subscriptions.customers.changes.v1"}


def test_clients_authenticate_as_the_platform_or_as_a_consumer() -> None:
    from mesh_config import load_settings
    from mesh_stack.components.kafka import Kafka

    settings = load_settings()
    assert settings.kafka_client()["sasl.username"] == settings.kafka_user
    assert settings.kafka_client()["sasl.mechanisms"] == "PLAIN"
    assert settings.kafka_client("analyst", "mk_x")["sasl.mechanisms"] == "SCRAM-SHA-256"
    assert settings.kafka_client("analyst", "mk_x")["sasl.password"] == "mk_x"
    assert "sasl.jaas.config" in settings.kafka_java_client()
    plain = load_settings(kafka_security_protocol="PLAINTEXT")
    assert plain.kafka_client() == {"bootstrap.servers": plain.bootstrap_servers}
    properties = Kafka(settings)._properties()
    assert "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" in properties
    assert "allow.everyone.if.no.acl.found=false" in properties
    assert "BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT" in properties
    assert "sasl.enabled.mechanisms=SCRAM-SHA-256,PLAIN" in properties
    assert "StandardAuthorizer" not in Kafka(plain)._properties()


class FakeLakehouse:
    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.allowed: dict[str, set[str]] = {}

    def issue(self, consumer: str, key_id: str) -> tuple[str, str]:
        self.keys[key_id] = consumer
        return f"MESH{key_id}", "secret"

    def withdraw(self, consumer: str, key_id: str) -> None:
        self.keys.pop(key_id, None)

    def allow(self, tables: Mapping[str, set[str]]) -> None:
        self.allowed = {c: set(t) for c, t in tables.items()}


def test_lakehouse_credentials_follow_the_keys_and_the_grants() -> None:
    lakehouse = FakeLakehouse()
    tables = {CUSTOMERS: Readable(["s3://lakehouse/subscriptions/customers_customers_v1"], True)}

    def located(product: str) -> Readable:
        return tables[product]

    service = AccessService(MemoryStore(), Control(), owners, clock=lambda: NOW, lakehouse=lakehouse, tables=located)
    support, key = service.create_consumer("support", "Customer care", "")
    owner, _ = service.create_consumer("subs-owner", OWNERS, "")
    assert service.lakehouse_credentials(support, key)[0] == f"MESH{key_id_of(key)}"
    service.decide(service.request(support, CUSTOMERS, "customer care", True).id, owner, approve=True)
    assert lakehouse.allowed["support"] == {"s3://lakehouse/subscriptions/customers_customers_v1"}
    service.rotate("support")  # no grace: the old key is revoked, and its S3 key withdrawn
    assert str(key_id_of(key)) not in lakehouse.keys
    with pytest.raises(Denied):
        service.lakehouse_credentials(support, key)


def test_the_object_store_gets_the_actions_it_lacks_and_loses_the_others() -> None:
    from mesh_catalog.adapters import SeaweedLakehouse
    from mesh_config import load_settings

    sent: list[tuple[str, ...]] = []

    class Recording(SeaweedLakehouse):
        def _shell(self, *commands: str) -> str:
            sent.append(commands)
            if commands == ("s3.configure",):
                identity = {"name": "consumer-support", "actions": ["Read:lakehouse/old/*", "Read:lakehouse/kept/*"]}
                return "master: ...\n" + json.dumps({"identities": [identity]}) + "\n"
            return ""

    Recording(load_settings(), "weed").allow(
        {"support": {"s3://lakehouse/kept", "s3://lakehouse/new/"}, "nobody": set()}
    )
    assert sent[-1] == (
        "s3.configure -user=consumer-support -actions=Read:lakehouse/new/* -apply",
        "s3.configure -user=consumer-support -delete -actions=Read:lakehouse/old/* -apply",
    )


def test_kafka_reads_are_the_advance_of_each_consumers_groups_committed_offsets() -> None:
    from mesh_access.kafka_reads import Read, reads

    topic = "subscriptions.customers.stream.v1"
    before = {("support.app", topic, 0): 10}
    now = {
        ("support.app", topic, 0): 25,  # 15 more
        ("support.app", topic, 1): 5,  # a partition seen for the first time: from zero
        ("support-team.x", topic, 0): 7,  # another consumer whose id starts the same way
        ("stranger.g", topic, 0): 99,  # not a consumer of the book
        ("support.app", "not-a-product-topic", 0): 3,
    }
    assert reads(before, now, ["support", "support-team"]) == [
        Read("support", CUSTOMERS, topic, 20),
        Read("support-team", CUSTOMERS, topic, 7),
    ]
    assert reads(now, before, ["support"]) == [], "offsets that went back count nothing"
