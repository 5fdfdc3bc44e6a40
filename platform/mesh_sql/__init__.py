"""The product SQL port: read-only, sandboxed DuckDB over a product's Iceberg tables (`SqlEngine`),
served over the PostgreSQL wire protocol (`mesh_sql.pgwire`)."""

from mesh_sql.engine import Cancellation, Column, ConnectionFactory, QueryResult, SqlEngine
from mesh_sql.errors import SqlCanceled, SqlError, SqlRefused, SqlSyntaxError, SqlTimeout
from mesh_sql.guard import CheckedQuery, QueryGuard

__all__ = [
    "Cancellation",
    "CheckedQuery",
    "Column",
    "ConnectionFactory",
    "QueryGuard",
    "QueryResult",
    "SqlCanceled",
    "SqlEngine",
    "SqlError",
    "SqlRefused",
    "SqlSyntaxError",
    "SqlTimeout",
]
