"""The server's half of SCRAM-SHA-256 (RFC 5802 and 7677) as PostgreSQL speaks it, with channel
binding over TLS (SCRAM-SHA-256-PLUS, `tls-server-end-point` of RFC 5929).

Written here rather than taken from scramp, the maintained Python SCRAM library: scramp 1.5 refuses
the client-first message every libpq client sends (`n,,n=,r=...`, an empty user name, because
PostgreSQL takes the user from the startup message and ignores SCRAM's), and 1.4, which accepted it,
is no longer maintained. What remains is a few HMACs over hashlib; libpq, pgJDBC and psql check it
in the test suite, each with its own SCRAM client."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

SCRAM = "SCRAM-SHA-256"
SCRAM_PLUS = "SCRAM-SHA-256-PLUS"
ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
_BINDING = "tls-server-end-point"
_SECRET = re.compile(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")


class ScramFailure(Exception):
    """The exchange cannot go on; the message says why, for the client."""


class ProofMismatch(ScramFailure):
    """A well-formed exchange whose proof matches none of the user's secrets: a wrong password."""


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, "sha256")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class ScramSecret:
    """What the server keeps to check a SCRAM proof: it cannot be used to log in. `holder` names the
    credential it was made from (an API key's id), for the authenticator to find again."""

    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes
    holder: str = ""

    @classmethod
    def of_password(
        cls, password: str, holder: str = "", *, salt: bytes | None = None, iterations: int = ITERATIONS
    ) -> ScramSecret:
        """Derived as libpq does for an ASCII password (SASLprep leaves ASCII as it is; API keys are)."""
        salt = salt or secrets.token_bytes(16)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
        client_key = _hmac(salted, b"Client Key")
        return cls(iterations, salt, hashlib.sha256(client_key).digest(), _hmac(salted, b"Server Key"), holder)

    @classmethod
    def parse(cls, text: str, holder: str = "") -> ScramSecret:
        """From PostgreSQL's form (pg_authid): `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`."""
        match = _SECRET.match(text)
        if match is None:
            raise ValueError("not a SCRAM-SHA-256 secret")
        try:
            salt, stored, server = (base64.b64decode(part, validate=True) for part in match.group(2, 3, 4))
        except binascii.Error as exc:
            raise ValueError(f"not a SCRAM-SHA-256 secret: {exc}") from None
        return cls(int(match.group(1)), salt, stored, server, holder)

    def text(self) -> str:
        return f"{SCRAM}${self.iterations}:{_b64(self.salt)}${_b64(self.stored_key)}:{_b64(self.server_key)}"


def channel_binding_data(certificate_pem: bytes) -> bytes | None:
    """tls-server-end-point: the hash of the server's certificate, by the hash its signature uses
    (SHA-256 for MD5 and SHA-1); None for a certificate without one (Ed25519), which cannot bind."""
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    algorithm = certificate.signature_hash_algorithm
    if algorithm is None:
        return None
    if isinstance(algorithm, hashes.MD5 | hashes.SHA1):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(certificate.public_bytes(serialization.Encoding.DER))
    return digest.finalize()


class ScramExchange:
    """One login, server side: the mechanisms to offer, then the client's two messages in turn. The
    user may hold several secrets with the same salt and iterations (several valid passwords, such as
    keys in a rotation): a proof of any of them logs in, and `final` says which."""

    def __init__(self, candidates: Sequence[ScramSecret], binding: bytes | None = None) -> None:
        if not candidates:
            raise ValueError("a SCRAM exchange needs a secret to check the proof against")
        self._secret = candidates[0]
        self._candidates = [
            c for c in candidates if (c.salt, c.iterations) == (self._secret.salt, self._secret.iterations)
        ]
        self._binding = binding  # tls-server-end-point data, when the connection is TLS
        self.mechanisms = [SCRAM_PLUS, SCRAM] if binding is not None else [SCRAM]
        self._nonce = self._client_first_bare = self._server_first = self._gs2_header = ""

    def first(self, mechanism: str, client_first: bytes) -> str:
        """The server-first message."""
        if mechanism not in self.mechanisms:
            raise ScramFailure(
                f"SASL mechanism {mechanism!r} is not offered here (offered: {', '.join(self.mechanisms)})"
            )
        text = _utf8(client_first)
        flag, _, rest = text.partition(",")
        authzid, _, bare = rest.partition(",")
        self._gs2_header = f"{flag},{authzid},"
        if authzid:
            raise ScramFailure("SCRAM authorization identities (a=) are not supported")
        if flag.startswith("p="):
            if mechanism != SCRAM_PLUS:
                raise ScramFailure("the client asked for channel binding without choosing SCRAM-SHA-256-PLUS")
            if flag[2:] != _BINDING:
                raise ScramFailure(f"channel binding type {flag[2:]!r} is not supported: {_BINDING} is")
        elif flag == "y":
            if self._binding is not None:  # a client that saw PLUS offered would not say this: a downgrade
                raise ScramFailure("the client thinks the server does not support channel binding, but it does")
        elif flag != "n":
            raise ScramFailure("malformed SCRAM message: unknown channel-binding flag")
        if flag[:1] != "p" and mechanism == SCRAM_PLUS:
            raise ScramFailure("SCRAM-SHA-256-PLUS chosen without channel binding")
        attributes = _attributes(bare)
        if "m" in attributes:
            raise ScramFailure("SCRAM extensions are not supported")
        client_nonce = attributes.get("r", "")
        if not client_nonce or "n" not in attributes:
            raise ScramFailure("malformed SCRAM message: no user name or nonce")
        self._client_first_bare = bare
        self._nonce = client_nonce + _b64(secrets.token_bytes(18))
        self._server_first = f"r={self._nonce},s={_b64(self._secret.salt)},i={self._secret.iterations}"
        return self._server_first

    def final(self, client_final: bytes) -> tuple[str, ScramSecret]:
        """The server-final message (which proves the server to the client) and the secret proven, or
        ScramFailure."""
        text = _utf8(client_final)
        without_proof, _, proof_part = text.rpartition(",p=")
        attributes = _attributes(without_proof)
        bound = self._binding if self._gs2_header.startswith("p") and self._binding is not None else b""
        expected_binding = self._gs2_header.encode() + bound
        if attributes.get("c") != _b64(expected_binding):
            raise ScramFailure("SCRAM channel binding check failed")
        if attributes.get("r") != self._nonce:
            raise ScramFailure("SCRAM nonce mismatch")
        try:
            proof = base64.b64decode(proof_part, validate=True)
        except binascii.Error:
            raise ScramFailure("malformed SCRAM message: the proof is not base64") from None
        message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        for candidate in self._candidates:
            signature = _hmac(candidate.stored_key, message)
            if len(proof) != len(signature):
                break
            client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
            if hmac.compare_digest(hashlib.sha256(client_key).digest(), candidate.stored_key):
                return f"v={_b64(_hmac(candidate.server_key, message))}", candidate
        raise ProofMismatch("the proof does not match")


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScramFailure("malformed SCRAM message: not UTF-8") from None


def _attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for part in text.split(","):
        if len(part) < 2 or part[1] != "=" or part[0] in attributes:
            raise ScramFailure("malformed SCRAM message")
        attributes[part[0]] = part[2:]
    return attributes
