"""A PostgreSQL wire-protocol (v3) server for the SQL port: psql, psycopg and other PostgreSQL
clients query a product's tables through `mesh_sql.SqlEngine`."""

from mesh_sql.pgwire.server import DEFAULT_PORT, PgWireServer, serve
from mesh_sql.pgwire.session import Authenticator, LoginRefused, Queryable

__all__ = ["DEFAULT_PORT", "Authenticator", "LoginRefused", "PgWireServer", "Queryable", "serve"]
