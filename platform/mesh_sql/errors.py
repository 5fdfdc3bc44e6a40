"""Errors of the SQL port. Each carries the PostgreSQL SQLSTATE a client should see."""

from __future__ import annotations


class SqlError(Exception):
    """A query failed; `sqlstate` is the PostgreSQL error code for it."""

    sqlstate = "XX000"

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if sqlstate is not None:
            self.sqlstate = sqlstate


class SqlRefused(SqlError):
    """The query asks for something the read-only SQL port does not allow."""

    sqlstate = "42501"  # insufficient_privilege


class SqlSyntaxError(SqlError):
    sqlstate = "42601"  # syntax_error


class SqlCanceled(SqlError):
    """The query was interrupted: canceled by the client or past the time limit."""

    sqlstate = "57014"  # query_canceled


class SqlTimeout(SqlCanceled):
    pass


# DuckDB messages start with "<kind> Error: "; the kind decides the SQLSTATE.
_DUCKDB_KINDS = {
    "Parser": "42601",
    "Conversion": "22P02",  # invalid_text_representation
    "Out of Range": "22003",  # numeric_value_out_of_range
    "Invalid Input": "22023",  # invalid_parameter_value
    "Permission": "42501",
    "Out of Memory": "53200",
    "Not implemented": "0A000",  # feature_not_supported
    "Constraint": "23000",
    "INTERRUPT": "57014",
}


def sqlstate_of_duckdb_message(message: str) -> str:
    """The SQLSTATE for a DuckDB error message."""
    kind = message.split(" Error:", 1)[0] if " Error:" in message else ""
    if kind == "Catalog":
        if "Table with name" in message or "Table Function with name" in message:
            return "42P01"  # undefined_table
        if "Function with name" in message:
            return "42883"  # undefined_function
        return "42704"  # undefined_object
    if kind == "Binder":
        if "Referenced column" in message or "not found in FROM clause" in message:
            return "42703"  # undefined_column
        if "function" in message.lower():
            return "42883"
        return "42000"  # syntax_error_or_access_rule_violation
    return _DUCKDB_KINDS.get(kind, "XX000")


def from_duckdb(exc: BaseException) -> SqlError:
    """A DuckDB (or pyarrow-wrapped DuckDB) exception as a SqlError with the right SQLSTATE."""
    message = str(exc).strip()
    state = sqlstate_of_duckdb_message(message)
    if state == "42601":
        return SqlSyntaxError(message)
    if state == "42501":
        return SqlRefused(message)
    return SqlError(message, state)
