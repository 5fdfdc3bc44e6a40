"""The mesh's own TLS certificate, for the SQL ports: made on first use under the mesh's home, with a
certificate authority of its own so that a client can verify the server (`sslmode=verify-full
sslrootcert=.mesh/tls/ca.crt`), not only encrypt (`sslmode=require`). The authority's private key is
thrown away once it has signed: nothing else can ever be issued in its name.

Several products start at once and each may be the first to need the certificate, so it is made in a
directory of its own and renamed into place: one rename wins, and every process then reads the same
files."""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mesh_config import MeshSettings

VALID_FOR = timedelta(days=825)  # the longest validity clients accept for a server certificate


@dataclass(frozen=True)
class ServerCertificate:
    authority: Path  # what clients trust (sslrootcert)
    certificate: Path
    key: Path


def tls_directory(settings: MeshSettings) -> Path:
    return settings.home / "tls"


def server_certificate(settings: MeshSettings) -> ServerCertificate:
    """The SQL ports' certificate: `MESH_SQL_TLS_CERTIFICATE` and `MESH_SQL_TLS_KEY` when set, otherwise
    the mesh's own, made on first use."""
    if settings.sql_tls_certificate is not None and settings.sql_tls_key is not None:
        return ServerCertificate(settings.sql_tls_certificate, settings.sql_tls_certificate, settings.sql_tls_key)
    directory = tls_directory(settings)
    made = _files(directory)
    if not made.key.exists():
        _make(directory, settings.host)
    return made


def _files(directory: Path) -> ServerCertificate:
    return ServerCertificate(directory / "ca.crt", directory / "server.crt", directory / "server.key")


def _make(directory: Path, host: str) -> None:
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tls-", dir=directory.parent))
    try:
        _write(_files(staging), host)
        try:
            os.rename(staging, directory)
        except OSError:
            if not _files(directory).key.exists():  # not another process's finished work: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write(files: ServerCertificate, host: str) -> None:
    now = datetime.now(UTC)
    authority_key = ec.generate_private_key(ec.SECP256R1())
    # Every mesh's authority has a name of its own, so that a client trusting another mesh's is told the
    # certificate's issuer is unknown rather than that a signature does not verify.
    authority_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"Streamline mesh local CA {secrets.token_hex(4)}")]
    )
    authority = (
        x509.CertificateBuilder()
        .subject_name(authority_name)
        .issuer_name(authority_name)
        .public_key(authority_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(authority_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    if host not in ("127.0.0.1", "localhost"):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(authority_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(authority_key, hashes.SHA256())
    )
    files.authority.write_bytes(authority.public_bytes(serialization.Encoding.PEM))
    files.certificate.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key = server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # libpq-style: owner only
    with os.fdopen(descriptor, "wb") as out:
        out.write(key)
