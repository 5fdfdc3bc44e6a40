"""The access service: the book of identities and grants, kept in a store and published to every
product on the control topic whenever it changes. The catalog serves it (REST, the portal, the CLI)."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from mesh_access.book import AccessBook, AccessError, AccessRequest, ApiKey, Consumer

log = logging.getLogger(__name__)


class Store(Protocol):
    def load(self) -> Any | None: ...

    def save(self, state: dict[str, Any]) -> None: ...


class Publisher(Protocol):
    def publish_access(self, message: dict[str, Any]) -> None:
        """Raises when the access list could not be published (the service retries)."""
        ...


class Broker(Protocol):
    """The event backbone's own access control (Kafka: SCRAM credentials and ACLs)."""

    def set_password(self, consumer: str, key: str) -> None:
        """The consumer authenticates with this key from now on (its previous one stops working)."""
        ...

    def remove(self, consumer: str) -> None: ...

    def allow(self, topics: Mapping[str, set[str]]) -> None:
        """Exactly these consumers may read exactly these topics (and use consumer groups named
        `<consumer>.…`); every other consumer's ACLs go."""
        ...


class Lakehouse(Protocol):
    """The object store's own access control: S3 credentials per API key, read access per table."""

    def issue(self, consumer: str, key_id: str) -> tuple[str, str]:
        """S3 credentials (access key, secret) for one of the consumer's API keys, replacing earlier ones."""
        ...

    def withdraw(self, consumer: str, key_id: str) -> None: ...

    def allow(self, tables: Mapping[str, set[str]]) -> None:
        """Exactly these consumers may read exactly these tables (their s3:// locations)."""
        ...


@dataclass(frozen=True)
class Readable:
    """A product's resources on a server that cannot mask a field (Kafka topics, lakehouse tables):
    those holding whole rows, whether those carry PII, and the twins with PII masked (if it has any)."""

    whole: list[str]
    pii: bool
    masked: list[str] = field(default_factory=list)


class Topics(Protocol):
    def __call__(self, product: str) -> Readable:
        """A product's Kafka topics or Iceberg tables (LookupError: no such product)."""
        ...


class Owners(Protocol):
    def __call__(self, product: str) -> tuple[str, str]:
        """A product's id and owning team from an id or a name (`subscriptions.customers`); LookupError
        when the catalog knows no such product."""
        ...


class AccessService:
    def __init__(
        self,
        store: Store,
        publisher: Publisher | None,
        owners: Owners,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        broker: Broker | None = None,
        topics: Topics | None = None,
        lakehouse: Lakehouse | None = None,
        tables: Topics | None = None,
    ) -> None:
        self.store, self.publisher, self.owners, self.clock = store, publisher, owners, clock
        self.broker, self.topics = broker, topics
        self.lakehouse, self.tables = lakehouse, tables
        self.lakehouse_applied: dict[str, set[str]] | None = None
        self.broker_applied: dict[str, set[str]] | None = None  # the topics the broker's ACLs open, by consumer
        state = store.load()
        self.book = AccessBook.from_state(state) if state else AccessBook()
        self.published_version: int | None = None
        self._retired: set[str] = set()  # expired keys whose S3 credentials were withdrawn
        self._lock = threading.Lock()

    def _changed(self) -> None:
        self.store.save(self.book.to_state())
        self.publish()

    # Both syncs compare what the grants open with what was applied, rather than follow the book's version:
    # a granted product's topics and tables come from its registration, and a table may appear (or a
    # product re-register with other ports or PII) after the grant.

    def sync_broker(self) -> bool:
        """Bring the broker's ACLs in line with the grants; False on failure."""
        if self.broker is None:
            return True
        try:
            wanted = self.kafka_topics()
            if wanted != self.broker_applied:
                self.broker.allow(wanted)
                self.broker_applied = wanted
        except Exception as exc:
            log.warning("the broker's ACLs (version %d) are not in line yet: %s", self.book.version, exc)
            return False
        return True

    def sync_lakehouse(self) -> bool:
        """Bring the object store's read permissions in line with the grants; False on failure."""
        if self.lakehouse is None:
            return True
        try:
            wanted = self.lakehouse_tables()
            if wanted != self.lakehouse_applied:
                self.lakehouse.allow(wanted)
                self.lakehouse_applied = wanted
        except Exception as exc:
            log.warning("the lakehouse's permissions (version %d) are not in line yet: %s", self.book.version, exc)
            return False
        return True

    def lakehouse_tables(self) -> dict[str, set[str]]:
        """What each consumer may read in the lakehouse: the tables (s3:// locations) of its grants."""
        return self._readable(self.tables)

    def kafka_topics(self) -> dict[str, set[str]]:
        """What each consumer may read on Kafka: the streams of the products it holds a grant for. A
        stream carries whole rows, so one with PII needs a grant that includes PII; its masked twin not."""
        return self._readable(self.topics)

    def _readable(self, resources: Topics | None) -> dict[str, set[str]]:
        """Per consumer, the resources (topics, tables) of its grants' products: the masked twins, and
        those of whole rows too for a grant with PII or a product without."""
        allowed: dict[str, set[str]] = {c: set() for c in self.book.consumers}
        for grant in self.book.grants():
            try:
                found = resources(grant.product) if resources else Readable([], False)
            except LookupError:
                continue
            allowed[grant.consumer].update(found.masked)
            if grant.pii or not found.pii:
                allowed[grant.consumer].update(found.whole)
        return allowed

    def lakehouse_credentials(self, consumer: Consumer, presented: str) -> tuple[str, str]:
        """S3 credentials for the key the consumer presented (shown once; a new call replaces them)."""
        if self.lakehouse is None:
            raise AccessError(409, "this mesh's object store is not managed by the platform (no lakehouse port)")
        key_id = self.book.access_list().authenticate(presented, self.clock()).id
        credentials = self.lakehouse.issue(consumer.id, key_id)
        self.sync_lakehouse()
        return credentials

    def retire_lakehouse_keys(self) -> None:
        """Withdraw the S3 credentials of API keys that expired (a rotation's grace period is over)."""
        lakehouse = self.lakehouse
        if lakehouse is None:
            return
        now = self.clock()
        for key in list(self.book.keys.values()):
            if key.state(now) == "expired" and key.id not in self._retired:
                self._quietly(f"{key.id}'s S3 key", functools.partial(lakehouse.withdraw, key.consumer, key.id))
                self._retired.add(key.id)

    def _quietly(self, what: str, call: Callable[[], None]) -> None:
        """A change on a server that enforces access itself (the broker, the object store): a failure is
        logged, and the other ports are not held back; the next change of the grants catches up."""
        try:
            call()
        except Exception as exc:
            log.error("%s did not take effect: %s", what, exc)

    def publish(self) -> bool:
        """Publish the access list unless the products already have this version; False on failure."""
        self.sync_broker()
        self.sync_lakehouse()
        if self.publisher is None or self.published_version == self.book.version:
            return True
        try:
            self.publisher.publish_access(self.book.access_list().to_message())
        except Exception as exc:
            log.warning("the access list (version %d) is not published yet: %s", self.book.version, exc)
            return False
        self.published_version = self.book.version
        return True

    def _owner(self, product: str) -> tuple[str, str]:
        try:
            return self.owners(product)
        except LookupError:
            raise AccessError(404, f"no product {product!r} in the catalog", "product") from None

    # --- identities ------------------------------------------------------------------------------------

    def identify(self, presented: str | None) -> Consumer:
        return self.book.identify(presented, self.clock())

    def presented_key(self, presented: str | None) -> ApiKey:
        """The key presented (Denied, status 401, when it proves no one)."""
        return self.book.key(self.book.access_list().authenticate(presented, self.clock()).id)

    def create_consumer(self, consumer_id: str, team: str, contact: str) -> tuple[Consumer, str]:
        with self._lock:
            created = self.book.create_consumer(consumer_id, team, contact, self.clock())
            self._changed()
        broker = self.broker
        if broker is not None:
            self._quietly(f"{consumer_id}'s credential", lambda: broker.set_password(consumer_id, created[1]))
        log.info("consumer %s (%s) created", consumer_id, team)
        return created

    def rotate(self, consumer_id: str, grace_s: float = 0) -> tuple[str, list[str]]:
        if grace_s < 0:
            raise AccessError(400, "grace_seconds: zero or more", "grace_seconds")
        with self._lock:
            rotated = self.book.rotate(consumer_id, self.clock(), timedelta(seconds=grace_s))
            self._changed()
        lakehouse = self.lakehouse
        if lakehouse is not None and grace_s == 0:  # replaced keys are revoked at once: their S3 keys too
            for old in rotated[1]:
                self._quietly(f"{old}'s S3 key", functools.partial(lakehouse.withdraw, consumer_id, old))
        broker = self.broker
        if broker is not None:  # Kafka holds one password a consumer: the newest key, at once
            self._quietly(f"{consumer_id}'s new credential", lambda: broker.set_password(consumer_id, rotated[0]))
        return rotated

    def revoke_key(self, key_id: str, by: Consumer | None) -> ApiKey:
        """By the platform (`by` None) or the key's own consumer."""
        with self._lock:
            key = self.book.key(key_id)
            if by is not None and by.id != key.consumer:
                raise AccessError(403, f"{by.id} may revoke only its own keys; {key_id} is {key.consumer}'s")
            revoked = self.book.revoke_key(key_id, self.clock())
            self._changed()
            newest = self.book.keys_of(revoked.consumer)[-1]
        lakehouse = self.lakehouse
        if lakehouse is not None:
            self._quietly(f"{key_id}'s S3 key", lambda: lakehouse.withdraw(revoked.consumer, key_id))
        broker = self.broker
        if broker is not None and newest.id == key_id:  # it was the consumer's Kafka password
            self._quietly(f"removing {revoked.consumer}'s credential", lambda: broker.remove(revoked.consumer))
        return revoked

    # --- requests and grants ---------------------------------------------------------------------------

    def request(self, consumer: Consumer, product: str, purpose: str, pii: bool) -> AccessRequest:
        product_id, _ = self._owner(product)
        with self._lock:
            made = self.book.request(consumer.id, product_id, purpose, pii, self.clock())
            self._changed()
        return made

    def decide(self, request_id: str, approver: Consumer, approve: bool, note: str = "") -> AccessRequest:
        with self._lock:
            _, team = self._owner(self.book.get_request(request_id).product)
            decided = self.book.decide(request_id, approver, team, approve, note, self.clock())
            self._changed()
        return decided

    def revoke_grant(self, request_id: str, by: Consumer, note: str = "") -> AccessRequest:
        with self._lock:
            _, team = self._owner(self.book.get_request(request_id).product)
            revoked = self.book.revoke_grant(request_id, by, team, note, self.clock())
            self._changed()
        return revoked

    # --- reading ---------------------------------------------------------------------------------------

    def consumers(self) -> list[dict[str, Any]]:
        now = self.clock()
        return [
            {
                "id": c.id,
                "team": c.team,
                "contact": c.contact,
                "created_at": c.created_at.isoformat(),
                "keys": [k.public(now) for k in self.book.keys_of(c.id)],
                "grants": [r.id for r in self.book.grants() if r.consumer == c.id],
            }
            for c in sorted(self.book.consumers.values(), key=lambda c: c.id)
        ]

    def requests(self, status: str | None = None, consumer: str | None = None) -> list[AccessRequest]:
        return [
            r
            for r in self.book.requests.values()
            if (status is None or r.status == status) and (consumer is None or r.consumer == consumer)
        ]
