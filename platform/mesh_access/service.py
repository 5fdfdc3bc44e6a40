"""The access service: the book of identities and grants, kept in a store and published to every
product on the control topic whenever it changes. The catalog serves it (REST, the portal, the CLI)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
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
    ) -> None:
        self.store, self.publisher, self.owners, self.clock = store, publisher, owners, clock
        state = store.load()
        self.book = AccessBook.from_state(state) if state else AccessBook()
        self.published_version: int | None = None
        self._lock = threading.Lock()

    def _changed(self) -> None:
        self.store.save(self.book.to_state())
        self.publish()

    def publish(self) -> bool:
        """Publish the access list unless the products already have this version; False on failure."""
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

    def create_consumer(self, consumer_id: str, team: str, contact: str) -> tuple[Consumer, str]:
        with self._lock:
            created = self.book.create_consumer(consumer_id, team, contact, self.clock())
            self._changed()
        log.info("consumer %s (%s) created", consumer_id, team)
        return created

    def rotate(self, consumer_id: str, grace_s: float = 0) -> tuple[str, list[str]]:
        if grace_s < 0:
            raise AccessError(400, "grace_seconds: zero or more", "grace_seconds")
        with self._lock:
            rotated = self.book.rotate(consumer_id, self.clock(), timedelta(seconds=grace_s))
            self._changed()
        return rotated

    def revoke_key(self, key_id: str, by: Consumer | None) -> ApiKey:
        """By the platform (`by` None) or the key's own consumer."""
        with self._lock:
            key = self.book.key(key_id)
            if by is not None and by.id != key.consumer:
                raise AccessError(403, f"{by.id} may revoke only its own keys; {key_id} is {key.consumer}'s")
            revoked = self.book.revoke_key(key_id, self.clock())
            self._changed()
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
