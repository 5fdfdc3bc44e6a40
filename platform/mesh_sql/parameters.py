"""The server as PostgreSQL clients see it: its version and the run-time parameters SHOW,
current_setting() and pg_settings answer (fixed: the port is read-only)."""

from __future__ import annotations

import duckdb

SERVER_VERSION = "16.0"
VERSION = f"PostgreSQL {SERVER_VERSION} (Streamline mesh SQL port, DuckDB {duckdb.__version__})"

# Reported to the client at startup (the parameters PostgreSQL marks GUC_REPORT).
REPORTED_PARAMETERS = {
    "server_version": SERVER_VERSION,
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "TimeZone": "UTC",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "is_superuser": "off",
    "default_transaction_read_only": "on",
    "in_hot_standby": "off",
}
MORE_PARAMETERS = {
    "server_version_num": "160000",
    "transaction_isolation": "read committed",
    "default_transaction_isolation": "read committed",
    "transaction_read_only": "on",
    "search_path": "main",
    "max_identifier_length": "63",
    "extra_float_digits": "1",
    "statement_timeout": "0",
    "lc_messages": "C",
    "bytea_output": "hex",
}


def server_parameters() -> dict[str, str]:
    """Every parameter SHOW and current_setting() answer, with its value (pg_settings lists them)."""
    return {**REPORTED_PARAMETERS, **MORE_PARAMETERS}
