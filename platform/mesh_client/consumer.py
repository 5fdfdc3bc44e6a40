"""The consumer's clients of a product's ports: REST, GraphQL, SQL (PostgreSQL wire) and its stream."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from mesh_config import MeshSettings


class ClientError(Exception):
    """Something the consumer can act on: the message says what happened and what to do."""


@dataclass(frozen=True)
class ProductPorts:
    id: str
    name: str  # <domain>.<product>, as the product's folder is named
    urls: dict[str, str]  # the discovery document's port URLs

    @property
    def base(self) -> str:
        parts = urlsplit(self.urls["graphql"])
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def sql_address(self) -> tuple[str, int, str]:
        parts = urlsplit(self.urls["sql"])
        return parts.hostname or "127.0.0.1", parts.port or 5432, parts.path.lstrip("/")


@dataclass(frozen=True)
class StreamRecord:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: dict[str, Any] | None


def folder_name(entry: dict[str, Any]) -> str:
    """urn:mesh:playback:events:v1 -> playback.events, the name people type."""
    parts = str(entry["id"]).split(":")
    return f"{parts[2]}.{parts[3]}" if len(parts) >= 5 else str(entry["id"])


class MeshConsumer:
    """One consumer (its API key) reading the mesh. Every read is the consumer's own: authorized by its
    grants, masked without PII, and written to the access log under its name."""

    def __init__(self, settings: MeshSettings, key: str) -> None:
        self.settings = settings
        self.key = key
        self._me: dict[str, Any] | None = None

    def _catalog(self, path: str, method: str = "GET", body: dict[str, Any] | None = None, **params: Any) -> Any:
        url = self.settings.product_catalog_endpoint + path
        try:
            answer = httpx.request(method, url, json=body, params=params or None, headers=self._auth(), timeout=30)
        except httpx.HTTPError as exc:
            raise ClientError(
                f"the data product catalog does not answer at {self.settings.product_catalog_endpoint} ({exc}): "
                "is the mesh running (`mesh status`)?"
            ) from None
        if answer.status_code >= 400:
            raise ClientError(_problem(answer))
        return answer.json()

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def whoami(self) -> dict[str, Any]:
        if self._me is None:
            self._me = self._catalog("/access/whoami")
        return self._me

    @property
    def consumer(self) -> str:
        return str(self.whoami()["consumer"])

    def request_access(self, product: str, purpose: str, *, pii: bool = False) -> dict[str, Any]:
        """Ask a product's owners for a grant; the answer is the request (its id, status pending)."""
        asked: dict[str, Any] = self._catalog(
            "/access/requests", "POST", {"product": product, "purpose": purpose, "pii": pii}
        )
        return asked

    def decide(self, request_id: str, *, approve: bool, note: str = "") -> dict[str, Any]:
        """As a member of the product's owning team: grant or refuse a request."""
        verb = "approve" if approve else "deny"
        decided: dict[str, Any] = self._catalog(f"/access/requests/{request_id}/{verb}", "POST", {"note": note})
        return decided

    def revoke(self, request_id: str, note: str = "") -> dict[str, Any]:
        """Withdraw a grant (its owners), or give it up (its holder): shut out at once, on every port."""
        revoked: dict[str, Any] = self._catalog(f"/access/requests/{request_id}/revoke", "POST", {"note": note})
        return revoked

    def product(self, name: str) -> ProductPorts:
        """A product by its id (urn:mesh:...) or its folder name (playback.events)."""
        entries: list[dict[str, Any]] = self._catalog("/products")
        for entry in entries:
            if name in (entry["id"], folder_name(entry)):
                document = self._catalog(f"/products/{entry['id']}")["document"]
                return ProductPorts(entry["id"], folder_name(entry), dict(document.get("ports") or {}))
        known = ", ".join(sorted(folder_name(e) for e in entries)) or "none yet"
        raise ClientError(f"no product {name!r} in the catalog; registered: {known}")

    def rest(self, product: str, path: str, **params: Any) -> Any:
        ports = self.product(product)
        answer = httpx.get(ports.base + path, params=params or None, headers=self._auth(), timeout=30)
        if answer.status_code >= 400:
            raise ClientError(f"{product} REST {path}: {answer.status_code} {_problem(answer)}")
        return answer.json()

    def graphql(self, product: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        ports = self.product(product)
        answer = httpx.post(
            ports.urls["graphql"], json={"query": query, "variables": variables or {}}, headers=self._auth(), timeout=30
        )
        if answer.status_code >= 400:
            raise ClientError(f"{product} GraphQL: {answer.status_code} {_problem(answer)}")
        body: dict[str, Any] = answer.json()
        if body.get("errors"):
            raise ClientError(f"{product} GraphQL: " + "; ".join(e.get("message", "?") for e in body["errors"]))
        return dict(body.get("data") or {})

    def sql(self, product: str, statement: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Through the product's own PostgreSQL port: the consumer's id as user, its key as password."""
        import psycopg

        host, port, database = self.product(product).sql_address
        try:
            with (
                psycopg.connect(
                    host=host, port=port, dbname=database, user=self.consumer, password=self.key, connect_timeout=10
                ) as conn,
                conn.cursor() as cursor,
            ):
                cursor.execute(statement.encode())  # the consumer's own SQL, run as given
                columns = [c.name for c in cursor.description or []]
                return columns, list(cursor.fetchall()) if cursor.description else []
        except psycopg.Error as exc:
            raise ClientError(f"{product} SQL: {str(exc).strip()}") from None

    def consume(
        self,
        topic: str,
        *,
        limit: int | None = 10,
        timeout_s: float = 10.0,
        from_beginning: bool = True,
        group: str | None = None,
    ) -> Iterator[StreamRecord]:
        """Records of a stream, decoded through the schema registry, read with the consumer's own Kafka
        identity in a group named after it (`<consumer>.<name>`, the only groups its ACLs allow). Offsets
        are committed, so the platform sees (and audits) the read. Stops after `limit` records or when
        nothing arrives for `timeout_s`."""
        from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
        from confluent_kafka.schema_registry import SchemaRegistryClient
        from confluent_kafka.schema_registry.avro import AvroDeserializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        me = self.consumer
        config = {
            **self.settings.kafka_client(me, self.key),
            "group.id": f"{me}.{group or 'mesh-consume-' + uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "enable.auto.commit": False,
            "log_level": 0,
        }
        reader = Consumer(config)
        avro = AvroDeserializer(SchemaRegistryClient({"url": self.settings.schema_registry_url}))

        def rewind(consumer: Any, partitions: list[TopicPartition]) -> None:
            if from_beginning:
                for p in partitions:
                    p.offset = -2  # OFFSET_BEGINNING, whatever the group committed before
            consumer.assign(partitions)

        reader.subscribe([topic], on_assign=rewind)
        read, quiet_since = 0, time.monotonic()
        try:
            while (limit is None or read < limit) and time.monotonic() - quiet_since < timeout_s:
                message = reader.poll(0.5)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise ClientError(_kafka_problem(topic, me, KafkaException(error)))
                quiet_since = time.monotonic()
                value = message.value()
                decoded = avro(value, SerializationContext(topic, MessageField.VALUE)) if value else None
                key = message.key()
                read += 1
                reader.commit(message=message, asynchronous=False)
                yield StreamRecord(
                    topic,
                    message.partition(),
                    message.offset(),
                    key.decode(errors="replace") if isinstance(key, bytes) else key,
                    decoded,
                )
        except KafkaException as exc:
            raise ClientError(_kafka_problem(topic, me, exc)) from None
        finally:
            reader.close()


def _kafka_problem(topic: str, consumer: str, exc: Exception) -> str:
    text = str(exc)
    if "TOPIC_AUTHORIZATION" in text or "Not authorized" in text:
        parts = topic.split(".")
        twin = ".".join([*parts[:2], f"{parts[2]}-masked", *parts[3:]]) if len(parts) == 4 else None
        masked = f"; without one, read the masked twin {twin}" if twin and not parts[2].endswith("-masked") else ""
        return (
            f"{consumer} may not read {topic}: no grant of yours opens it (a product with PII opens its whole "
            f"stream only to a grant with PII{masked}). Ask: mesh access request PRODUCT --purpose '...' [--pii]"
        )
    if "Authentication" in text or "SASL" in text:
        return f"Kafka refused {consumer}'s key ({text}): is MESH_API_KEY your newest key?"
    return f"reading {topic}: {text}"


def _problem(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text
    if isinstance(body, dict):
        return str(body.get("error") or body.get("detail") or body)
    return str(body)
