"""How a client proves who it is at the SQL port: SCRAM-SHA-256 (RFC 5802 and 7677), PostgreSQL's
default, in which the password never crosses the wire; over TLS also SCRAM-SHA-256-PLUS, which binds
the proof to the server's certificate so that a man in the middle cannot relay it (`scram`). A
cleartext password only where a server is configured for it (`password`, as pg_hba.conf calls it)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mesh_sql.pgwire.scram import ScramSecret, channel_binding_data

if TYPE_CHECKING:
    from mesh_sql.pgwire.queryable import Queryable


class Method(StrEnum):
    """What a server asks clients for (the names are pg_hba.conf's)."""

    SCRAM = "scram-sha-256"
    PASSWORD = "password"  # cleartext: only where TLS or loopback protects it, and only if asked for


class LoginRefused(Exception):
    """Raised by an authenticator: the client is turned away with this SQLSTATE and message."""

    def __init__(self, message: str, sqlstate: str = "28P01") -> None:
        self.message, self.sqlstate = message, sqlstate
        super().__init__(message)


class Authenticator(Protocol):
    """Who may log in, and what each may then query. Each method raises LoginRefused to turn a client
    away; the message reaches the client."""

    def scram_secrets(self, user: str) -> Sequence[ScramSecret]:
        """The secrets the user's SCRAM proof may match (one salt and iteration count: the first's)."""
        ...

    def verified(self, user: str, secret: ScramSecret) -> Queryable:
        """What a user who proved `secret` may query."""
        ...

    def failed(self, user: str, secrets: Sequence[ScramSecret]) -> None:
        """A client's proof matched none of `secrets` (for the record: it is refused anyway)."""
        ...

    def password(self, user: str, password: str) -> Queryable:
        """What a user who sent this cleartext password may query."""
        ...


class Passwords:
    """An authenticator for fixed users and passwords, all querying the same engine (tests, embedding)."""

    def __init__(self, users: Mapping[str, str], queryable: Queryable) -> None:
        self._passwords = dict(users)
        self._secrets = {user: ScramSecret.of_password(password, user) for user, password in users.items()}
        self._queryable = queryable

    def scram_secrets(self, user: str) -> Sequence[ScramSecret]:
        if user not in self._secrets:
            raise LoginRefused(f'password authentication failed for user "{user}"')
        return [self._secrets[user]]

    def verified(self, user: str, secret: ScramSecret) -> Queryable:
        return self._queryable

    def failed(self, user: str, secrets: Sequence[ScramSecret]) -> None:
        pass

    def password(self, user: str, password: str) -> Queryable:
        if self._passwords.get(user) != password:
            raise LoginRefused(f'password authentication failed for user "{user}"')
        return self._queryable


@dataclass(frozen=True)
class TlsIdentity:
    """The server's certificate and key (PEM files): what TLS and SCRAM's channel binding use."""

    certificate: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificate, self.key)
        return context

    def channel_binding(self) -> bytes | None:
        """What SCRAM-SHA-256-PLUS binds a login to (None: this certificate cannot bind one)."""
        return channel_binding_data(self.certificate.read_bytes())
