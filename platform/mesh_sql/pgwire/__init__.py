"""A PostgreSQL wire-protocol (v3) server for the SQL port: psql, psycopg and other PostgreSQL
clients query a product's tables through `mesh_sql.SqlEngine`, logging in with SCRAM-SHA-256, over
TLS when they ask for it."""

from mesh_sql.pgwire.auth import Authenticator, LoginRefused, Method, Passwords, TlsIdentity
from mesh_sql.pgwire.queryable import Queryable
from mesh_sql.pgwire.scram import ScramSecret
from mesh_sql.pgwire.server import DEFAULT_PORT, PgWireServer, serve

__all__ = [
    "DEFAULT_PORT",
    "Authenticator",
    "LoginRefused",
    "Method",
    "Passwords",
    "PgWireServer",
    "Queryable",
    "ScramSecret",
    "TlsIdentity",
    "serve",
]
