"""Names and strings written into DuckDB's SQL, whatever characters they hold."""

from __future__ import annotations


def quote_identifier(name: str) -> str:
    """A schema, table or column name."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A string constant."""
    return "'" + value.replace("'", "''") + "'"
