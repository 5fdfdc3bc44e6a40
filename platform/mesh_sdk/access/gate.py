"""Access control inside a product: every output port asks the same gate who is calling and what they may
see. The gate holds the access list the catalog publishes on the control topic (identities as key
hashes, and grants); a consumer without a grant is refused, and one whose grants leave out PII gets the
product's PII columns masked, on every port alike. Each data access, allowed or refused, goes to the
access log (`mesh.access`), which the audit log appends to its hash chain."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter

from mesh_access import Access, AccessList, Denied, PublishedGrant, PublishedKey
from mesh_access.keys import hash_key, key_id_of, new_key, scram_secret
from mesh_sdk.spec.product import AUTHENTICATION

log = logging.getLogger(__name__)

_T = TypeVar("_T")
ACCESS_TOPIC = "mesh.access"
ACCESS_KEY = b"access"  # the control topic's key for the access list


@dataclass(frozen=True)
class AccessEvent:
    """One data access for the audit trail: who, which product and port, what, how many rows."""

    at: datetime
    product: str
    port: str  # rest, graphql, sql, sql_http
    resource: str  # a table, a GraphQL field, or the sha256 of an SQL statement (its literals may be PII)
    consumer: str | None
    key_id: str | None
    outcome: str  # read, or denied
    rows: int = 0
    pii: bool = False
    purposes: tuple[str, ...] = ()
    status: int = 200
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return self.__dict__ | {"at": self.at.isoformat(), "purposes": list(self.purposes)}


class AccessLog(Protocol):
    def record(self, event: AccessEvent) -> None: ...


class NoAccessLog:
    """For a product embedded without a broker: accesses are only counted."""

    def record(self, event: AccessEvent) -> None:
        log.debug("access: %s", event)


def statement_digest(sql: str) -> str:
    return "sha256:" + hashlib.sha256(sql.encode()).hexdigest()[:16]


def presented_key(authorization: str | None, api_key: str | None) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    if api_key:
        return api_key.strip()
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        return credentials.strip() if scheme.lower() == "bearer" else None
    return None


class AccessGate:
    def __init__(
        self,
        product_id: str,
        pii_columns: Iterable[str],
        access_log: AccessLog | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.product_id = product_id
        self.pii_columns = frozenset(pii_columns)
        self.access_log: AccessLog = access_log or NoAccessLog()
        self.published = AccessList()  # until the catalog's list arrives, nobody is let in
        self.local = AccessList()
        self._in_force = AccessList()  # both, merged once per change rather than per request
        self._lock = threading.Lock()
        self.accesses = Counter(
            "mesh_data_access",
            "Data accesses on the output ports, by port and outcome",
            ["port", "outcome"],
            registry=registry,
        )

    # --- what the platform says ------------------------------------------------------------------------

    def apply_message(self, value: bytes | None) -> bool:
        """An access list from the control topic; False (and a log line) when it cannot be read."""
        try:
            published = AccessList.from_message(json.loads(value or b""))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring an unreadable access list on the control topic: %s", exc)
            return False
        with self._lock:
            self.published = published  # one partition: the last message read is the newest
            self._in_force = self.published.merged(self.local)
        granted = sorted({g.consumer for g in published.grants if g.product == self.product_id})
        log.info("access list v%d applied: %d consumer(s) granted here", published.version, len(granted))
        return True

    def admit(self, consumer: str, *, pii: bool, purpose: str = "embedded use") -> str:
        """An identity of this process alone, with a grant here (tests, notebooks): its key."""
        key_id, key = new_key()
        with self._lock:
            own = PublishedKey(key_id, consumer, hash_key(key), issued_at=datetime.now(UTC), scram=scram_secret(key))
            keys = {**self.local.keys, key_id: own}
            grant = PublishedGrant(f"local-{key_id}", consumer, self.product_id, purpose, pii)
            self.local = AccessList(self.local.version, keys, (*self.local.grants, grant))
            self._in_force = self.published.merged(self.local)
        return key

    # --- what each port asks ---------------------------------------------------------------------------

    def check(self, presented: str | None, port: str, resource: str) -> Access:
        """The caller's access, or Denied (recorded in the access log before it is raised)."""
        return self._decide(
            port,
            resource,
            key_id_of(presented or ""),
            lambda rules, now: rules.authorize(presented, self.product_id, now),
        )

    def check_proven(self, key_id: str, port: str, resource: str) -> Access:
        """As `check`, for a caller who proved its key without presenting it (a SQL port's SCRAM login):
        the key must still be in force, and its consumer granted here."""
        return self._decide(
            port, resource, key_id, lambda rules, now: rules.granted(rules.in_force(key_id, now), self.product_id)
        )

    def scram_keys(self, consumer: str, port: str) -> list[PublishedKey]:
        """The keys a SCRAM login as `consumer` may prove (AccessList.scram_keys), or Denied (recorded)."""
        return self._decide(port, "login", None, lambda rules, _now: rules.scram_keys(consumer))

    def refused(self, port: str, resource: str, key_id: str | None, denied: Denied) -> None:
        """Records a refusal decided here or by the port (a SCRAM proof that does not match)."""
        self.accesses.labels(port, "denied").inc()
        self._record(port, resource, denied.consumer, key_id, "denied", status=denied.status, reason=denied.message)

    def _decide(self, port: str, resource: str, key_id: str | None, decide: Callable[[AccessList, datetime], _T]) -> _T:
        now = datetime.now(UTC)
        with self._lock:
            access_list = self._in_force
        try:
            return decide(access_list, now)
        except Denied as exc:
            self.refused(port, resource, key_id, exc)
            raise

    def _record(
        self, port: str, resource: str, consumer: str | None, key_id: str | None, outcome: str, **more: Any
    ) -> None:
        self.access_log.record(
            AccessEvent(datetime.now(UTC), self.product_id, port, resource, consumer, key_id, outcome, **more)
        )

    def hidden(self, access: Access) -> frozenset[str]:
        """What this consumer must not see: the PII columns, unless a grant includes PII."""
        return frozenset() if access.pii else self.pii_columns

    def read(self, access: Access, port: str, resource: str, rows: int) -> None:
        self.accesses.labels(port, "read").inc()
        self._record(
            port,
            resource,
            access.consumer,
            access.key_id,
            "read",
            rows=rows,
            pii=access.pii,
            purposes=tuple(access.purposes),
        )

    def describe(self) -> dict[str, Any]:
        """For the discovery port: how to get in, and what is masked without a PII grant."""
        with self._lock:
            version = self.published.version
            granted = sorted({g.consumer for g in self.published.grants if g.product == self.product_id})
        return {
            "authentication": AUTHENTICATION,
            "pii_columns": sorted(self.pii_columns),
            "access_list_version": version,
            "granted_consumers": granted,
        }
