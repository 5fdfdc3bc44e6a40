"""API keys: `mk_<key id>_<secret>`. The key id is public (it names the key in lists, the audit log and
revocations); only the whole key proves an identity, and the platform keeps nothing but its hash.

The secret is 256 random bits, so a fast hash is the right one: a slow password hash protects guessable
secrets, and nobody guesses 256 bits, while every request on every port pays for each verification.

The SQL ports authenticate PostgreSQL clients with SCRAM-SHA-256, in which the client proves it holds the
key without sending it. The server then needs the key's SCRAM secret (a salt and two keys derived from
it), made once, when the key is issued: like the hash, it does not reveal the key."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from mesh_sql.pgwire.scram import ScramSecret

PREFIX = "mk"
_SHAPE = re.compile(r"^mk_([a-z2-7]{12})_[A-Za-z0-9_-]{43}$")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def new_key() -> tuple[str, str]:
    """A fresh key: (its id, the key itself, shown once to its holder)."""
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
    return key_id, f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(key: str) -> str | None:
    """The id of a well-formed key; None for anything else (an empty header, a password, garbage)."""
    match = _SHAPE.match(key)
    return match.group(1) if match else None


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def matches(key: str, hashed: str) -> bool:
    return hmac.compare_digest(hash_key(key), hashed)


def scram_secret(key: str, beside: str | None = None) -> str:
    """The key's SCRAM-SHA-256 secret, in the text form PostgreSQL keeps in pg_authid. A consumer's keys
    share one salt (that of the secret `beside`): a SCRAM server sends the salt before the client proves
    anything, and with one salt a proof can be checked against each of the consumer's keys, so a key
    still in a rotation's grace period logs in as well as the new one. (A salt protects guessable
    passwords; nobody guesses a key.)"""
    salt = ScramSecret.parse(beside).salt if beside else None
    return ScramSecret.of_password(key, salt=salt).text()
