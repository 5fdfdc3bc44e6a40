"""Who may read what, decided the same way by every port of every product: the published access list
(API key hashes and grants, as the catalog publishes them on the control topic) and a presented key in,
an `Access` or a `Denied` out. Pure: the time is passed in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mesh_access.keys import key_id_of, matches


class Denied(Exception):
    """A refused credential (`status` 401: missing, malformed, unknown, expired or revoked) or a refused
    access (403: a valid identity without a grant for the product). The message says which, and what to do."""

    def __init__(self, status: int, message: str, consumer: str | None = None) -> None:
        self.status, self.message, self.consumer = status, message, consumer
        super().__init__(message)


@dataclass(frozen=True)
class PublishedKey:
    id: str
    consumer: str
    hash: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    issued_at: datetime | None = None
    scram: str | None = None  # what a SQL port checks a SCRAM proof of the key against


def _refused(key: PublishedKey, now: datetime) -> Denied | None:
    """Why a known key no longer proves its consumer, if it does not."""
    if key.revoked_at is not None and key.revoked_at <= now:
        return Denied(401, f"the API key {key.id} was revoked at {key.revoked_at.isoformat()}", key.consumer)
    if key.expires_at is not None and key.expires_at <= now:
        return Denied(
            401, f"the API key {key.id} expired at {key.expires_at.isoformat()} (it was rotated)", key.consumer
        )
    return None


@dataclass(frozen=True)
class PublishedGrant:
    id: str  # the approved request's id
    consumer: str
    product: str
    purpose: str
    pii: bool


@dataclass(frozen=True)
class Access:
    """What one consumer may see of one product: its grants there, and whether they include PII."""

    consumer: str
    key_id: str
    product: str
    grants: tuple[PublishedGrant, ...]

    @property
    def pii(self) -> bool:
        return any(g.pii for g in self.grants)

    @property
    def purposes(self) -> list[str]:
        return sorted({g.purpose for g in self.grants})


@dataclass(frozen=True)
class AccessList:
    """The identities and grants in force, as published (`version` grows with every change)."""

    version: int = 0
    keys: Mapping[str, PublishedKey] = field(default_factory=dict)
    grants: tuple[PublishedGrant, ...] = ()

    def merged(self, other: AccessList) -> AccessList:
        """Both lists' keys and grants (an embedding process's own identities beside the published ones)."""
        return AccessList(max(self.version, other.version), {**self.keys, **other.keys}, self.grants + other.grants)

    def authenticate(self, presented: str | None, now: datetime) -> PublishedKey:
        if not presented:
            raise Denied(401, "no API key: send `Authorization: Bearer <key>` (mesh access consumer create issues one)")
        key_id = key_id_of(presented)
        if key_id is None:
            raise Denied(401, "the API key is malformed: mesh API keys look like mk_<id>_<secret>")
        key = self.keys.get(key_id)
        if key is None or not matches(presented, key.hash):
            raise Denied(401, f"the API key {key_id} is not valid here (unknown, or not yet published)")
        return self.in_force(key_id, now)

    def in_force(self, key_id: str, now: datetime) -> PublishedKey:
        """A key already proven (a SCRAM exchange proves it without showing it), if still valid."""
        key = self.keys.get(key_id)
        if key is None:
            raise Denied(401, f"the API key {key_id} is not valid here (no longer published)")
        refused = _refused(key, now)
        if refused is not None:
            raise refused
        return key

    def scram_keys(self, consumer: str) -> list[PublishedKey]:
        """The keys a consumer's SCRAM proof is checked against, newest first: every key made with a
        SCRAM secret (they share one salt), revoked and expired ones too, so that a proof of one of
        those is told why it no longer logs in (Denied when there are none)."""
        keys = sorted(
            (k for k in self.keys.values() if k.consumer == consumer),
            key=lambda k: k.issued_at or datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )
        if not keys:
            raise Denied(401, f"{consumer!r} has no API key here: the user name is the consumer id")
        with_secrets = [k for k in keys if k.scram]
        if not with_secrets:
            raise Denied(
                401,
                f"the API key {keys[0].id} was issued before SQL logins used SCRAM: rotate it (mesh access key rotate)",
                consumer,
            )
        return with_secrets

    def authorize(self, presented: str | None, product: str, now: datetime) -> Access:
        return self.granted(self.authenticate(presented, now), product)

    def granted(self, key: PublishedKey, product: str) -> Access:
        grants = tuple(g for g in self.grants if g.consumer == key.consumer and g.product == product)
        if not grants:
            raise Denied(
                403,
                f"{key.consumer} has no grant for {product}: mesh access request {product} --purpose '...'",
                key.consumer,
            )
        return Access(key.consumer, key.id, product, grants)

    def to_message(self) -> dict[str, Any]:
        return {
            "kind": "access",
            "version": self.version,
            "keys": [
                {
                    "id": k.id,
                    "consumer": k.consumer,
                    "hash": k.hash,
                    "expires_at": _text(k.expires_at),
                    "revoked_at": _text(k.revoked_at),
                    "issued_at": _text(k.issued_at),
                    "scram": k.scram,
                }
                for k in self.keys.values()
            ],
            "grants": [g.__dict__ for g in self.grants],
        }

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> AccessList:
        """Raises ValueError, KeyError or TypeError for a message that is not an access list."""
        if message.get("kind") != "access":
            raise ValueError(f"not an access list (kind {message.get('kind')!r})")
        keys = [
            PublishedKey(
                str(k["id"]),
                str(k["consumer"]),
                str(k["hash"]),
                _time(k.get("expires_at")),
                _time(k.get("revoked_at")),
                _time(k.get("issued_at")),
                str(k["scram"]) if k.get("scram") else None,
            )
            for k in message["keys"]
        ]
        grants = tuple(
            PublishedGrant(str(g["id"]), str(g["consumer"]), str(g["product"]), str(g["purpose"]), g["pii"] is True)
            for g in message["grants"]
        )
        return cls(int(message["version"]), {k.id: k for k in keys}, grants)


def _text(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _time(text: Any) -> datetime | None:
    if text is None:
        return None
    at = datetime.fromisoformat(str(text))
    return at if at.tzinfo else at.replace(tzinfo=UTC)
