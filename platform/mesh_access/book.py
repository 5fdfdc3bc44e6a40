"""The platform's book of consumer identities, their API keys, and access requests with their
decisions. Pure: no I/O, no clock. An approved request is a grant: one consumer, one product, one
purpose, with or without PII. Nothing is ever deleted, so the book is also the history of who was
allowed what, when, and by whom."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from mesh_access.decision import AccessList, PublishedGrant, PublishedKey
from mesh_access.keys import hash_key, new_key, scram_secret

_CONSUMER_ID = re.compile(r"^[a-z][a-z0-9-]{1,62}$")


class AccessError(Exception):
    """A request the book refuses; `status` is the HTTP status that fits (400, 403, 404, 409)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status, self.message, self.field = status, message, field
        super().__init__(message)


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Consumer:
    id: str
    team: str
    contact: str
    created_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: str
    consumer: str
    hash: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    scram: str | None = None  # the SQL ports' SCRAM secret; keys issued before it have none

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def public(self, now: datetime) -> dict[str, Any]:
        """What anyone may see of a key: everything but its hash and its SCRAM secret."""
        shown = {k: v for k, v in _plain(self).items() if k not in ("hash", "scram")}
        return shown | {"state": self.state(now)}


@dataclass(frozen=True)
class AccessRequest:
    id: str
    consumer: str
    product: str
    purpose: str
    pii: bool
    requested_at: datetime
    status: Status = Status.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str = ""

    @property
    def is_grant(self) -> bool:
        return self.status is Status.APPROVED


def same_team(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


class AccessBook:
    def __init__(self) -> None:
        self.consumers: dict[str, Consumer] = {}
        self.keys: dict[str, ApiKey] = {}
        self.requests: dict[str, AccessRequest] = {}
        self.version = 0

    # --- identities ------------------------------------------------------------------------------------

    def create_consumer(self, consumer_id: str, team: str, contact: str, now: datetime) -> tuple[Consumer, str]:
        """A new identity and its first API key (the key is returned once and never stored)."""
        if not _CONSUMER_ID.match(consumer_id):
            raise AccessError(
                400, f"consumer id {consumer_id!r}: 2-63 lower-case letters, digits or '-', from a letter", "id"
            )
        if consumer_id in self.consumers:
            raise AccessError(409, f"consumer {consumer_id} exists: rotate its key instead", "id")
        if not team.strip():
            raise AccessError(400, "team: say which team the consumer belongs to (approvals go by team)", "team")
        consumer = Consumer(consumer_id, team.strip(), contact.strip(), now)
        self.consumers[consumer_id] = consumer
        return consumer, self._issue(consumer_id, now)

    def consumer(self, consumer_id: str) -> Consumer:
        try:
            return self.consumers[consumer_id]
        except KeyError:
            raise AccessError(404, f"no consumer {consumer_id!r}", "consumer") from None

    def rotate(self, consumer_id: str, now: datetime, grace: timedelta = timedelta(0)) -> tuple[str, list[str]]:
        """A new key for the consumer; its other keys stop working after `grace` (at once when zero).
        Returns the new key and the ids of the keys it replaces."""
        self.consumer(consumer_id)
        replaced = [k.id for k in self.keys.values() if k.consumer == consumer_id and k.state(now) == "active"]
        for key_id in replaced:
            key = self.keys[key_id]
            self.keys[key_id] = (
                replace(key, expires_at=now + grace) if grace > timedelta(0) else replace(key, revoked_at=now)
            )
        return self._issue(consumer_id, now), replaced

    def revoke_key(self, key_id: str, now: datetime) -> ApiKey:
        key = self.key(key_id)
        if key.state(now) == "revoked":
            raise AccessError(409, f"key {key_id} was already revoked at {key.revoked_at}", "key")
        self.keys[key_id] = revoked = replace(key, revoked_at=now)
        self.version += 1
        return revoked

    def key(self, key_id: str) -> ApiKey:
        try:
            return self.keys[key_id]
        except KeyError:
            raise AccessError(404, f"no key {key_id!r}", "key") from None

    def keys_of(self, consumer_id: str) -> list[ApiKey]:
        return sorted((k for k in self.keys.values() if k.consumer == consumer_id), key=lambda k: k.created_at)

    def identify(self, presented: str | None, now: datetime) -> Consumer:
        """The consumer a presented key proves (Denied, status 401, otherwise)."""
        return self.consumers[self.access_list().authenticate(presented, now).consumer]

    def _issue(self, consumer_id: str, now: datetime) -> str:
        key_id, key = new_key()
        earlier = [k.scram for k in self.keys_of(consumer_id) if k.scram]
        secret = scram_secret(key, beside=earlier[-1] if earlier else None)
        self.keys[key_id] = ApiKey(key_id, consumer_id, hash_key(key), now, scram=secret)
        self.version += 1
        return key

    # --- requests and grants ---------------------------------------------------------------------------

    def request(self, consumer_id: str, product: str, purpose: str, pii: bool, now: datetime) -> AccessRequest:
        self.consumer(consumer_id)
        if len(purpose.strip()) < 3:
            raise AccessError(400, "purpose: say what the data is for (the owners decide on it)", "purpose")
        wanted = (consumer_id, product, purpose.strip(), pii)
        for r in self.requests.values():
            if (r.consumer, r.product, r.purpose, r.pii) == wanted and r.status in (Status.PENDING, Status.APPROVED):
                raise AccessError(409, f"{r.id} already asks for this ({r.status})", "purpose")
        request = AccessRequest(f"req-{len(self.requests) + 1:04d}", consumer_id, product, purpose.strip(), pii, now)
        self.requests[request.id] = request
        return request

    def get_request(self, request_id: str) -> AccessRequest:
        try:
            return self.requests[request_id]
        except KeyError:
            raise AccessError(404, f"no access request {request_id!r}", "request") from None

    def decide(
        self, request_id: str, approver: Consumer, owner_team: str, approve: bool, note: str, now: datetime
    ) -> AccessRequest:
        """The owning team approves (the request becomes a grant) or denies a pending request."""
        request = self.get_request(request_id)
        if not same_team(approver.team, owner_team):
            raise AccessError(
                403, f"{approver.id} ({approver.team}) is not of {owner_team}, the team that owns {request.product}"
            )
        if request.status is not Status.PENDING:
            raise AccessError(409, f"{request_id} is {request.status}, not pending", "request")
        status = Status.APPROVED if approve else Status.DENIED
        self.requests[request_id] = decided = replace(
            request, status=status, decided_by=approver.id, decided_at=now, note=note
        )
        if approve:
            self.version += 1  # a new grant: the products must hear of it
        return decided

    def revoke_grant(self, request_id: str, by: Consumer, owner_team: str, note: str, now: datetime) -> AccessRequest:
        """The owning team withdraws a grant, or its holder gives it up."""
        request = self.get_request(request_id)
        if by.id != request.consumer and not same_team(by.team, owner_team):
            raise AccessError(403, f"only {owner_team} or {request.consumer} may revoke {request_id}")
        if not request.is_grant:
            raise AccessError(409, f"{request_id} is {request.status}, not a grant", "request")
        self.requests[request_id] = revoked = replace(
            request, status=Status.REVOKED, decided_by=by.id, decided_at=now, note=note
        )
        self.version += 1
        return revoked

    def grants(self) -> list[AccessRequest]:
        return [r for r in self.requests.values() if r.is_grant]

    # --- what products are told ------------------------------------------------------------------------

    def access_list(self) -> AccessList:
        """Every key (revoked ones too, so a port can say a key was revoked) and every grant in force."""
        keys = {
            k.id: PublishedKey(k.id, k.consumer, k.hash, k.expires_at, k.revoked_at, k.created_at, k.scram)
            for k in self.keys.values()
        }
        grants = tuple(PublishedGrant(r.id, r.consumer, r.product, r.purpose, r.pii) for r in self.grants())
        return AccessList(self.version, keys, grants)

    # --- state -----------------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "consumers": [_plain(c) for c in self.consumers.values()],
            "keys": [_plain(k) for k in self.keys.values()],
            "requests": [_plain(r) for r in self.requests.values()],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AccessBook:
        book = cls()
        book.version = int(state.get("version", 0))
        for c in state.get("consumers", []):
            book.consumers[c["id"]] = Consumer(c["id"], c["team"], c["contact"], _time(c["created_at"]))
        for k in state.get("keys", []):
            book.keys[k["id"]] = ApiKey(
                k["id"],
                k["consumer"],
                k["hash"],
                _time(k["created_at"]),
                _maybe_time(k.get("expires_at")),
                _maybe_time(k.get("revoked_at")),
                k.get("scram"),
            )
        for r in state.get("requests", []):
            book.requests[r["id"]] = AccessRequest(
                r["id"],
                r["consumer"],
                r["product"],
                r["purpose"],
                bool(r["pii"]),
                _time(r["requested_at"]),
                Status(r["status"]),
                r.get("decided_by"),
                _maybe_time(r.get("decided_at")),
                r.get("note", ""),
            )
        return book


def _plain(record: Any) -> dict[str, Any]:
    """A record as JSON values: times as ISO 8601 text."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(record).items()}


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _maybe_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)
