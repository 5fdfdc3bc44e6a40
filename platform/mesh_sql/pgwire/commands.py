"""Statements the wire protocol answers itself, without DuckDB: what PostgreSQL clients send around
their queries (session settings, transaction statements, SHOW of parameters, version()). The port
is read-only, so transactions and client settings change nothing; other SETs are refused."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import sqlglot
from sqlglot import TokenType
from sqlglot.errors import SqlglotError

from mesh_sql.errors import SqlError, SqlRefused
from mesh_sql.parameters import MORE_PARAMETERS, REPORTED_PARAMETERS, VERSION

# Client-side settings PostgreSQL drivers and tools send; accepted and ignored (values are always
# printed in UTF8, ISO dates, UTC).
_CLIENT_SETTINGS = frozenset(
    name.lower()
    for name in [
        *REPORTED_PARAMETERS,
        *MORE_PARAMETERS,
        "application_name",
        "timezone",
        "time zone",
        "names",
        "client_min_messages",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
        "idle_session_timeout",
        "lc_monetary",
        "lc_numeric",
        "lc_time",
        "geqo",
        "jit",
        "row_security",
        "session characteristics",
        "transaction",
        "work_mem",
    ]
)

_LEADING_NOISE = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
_VERSION = re.compile(r"select\s+(?:pg_catalog\s*\.\s*)?version\s*\(\s*\)(?:\s+as\s+(\w+))?", re.I)
_CURRENT_SETTING = re.compile(
    r"select\s+(?:pg_catalog\s*\.\s*)?current_setting\s*\(\s*'([^']+)'\s*\)(?:\s+as\s+(\w+))?", re.I
)
_SET = re.compile(
    r"set\s+(session\s+characteristics|(?:(?:session|local)\s+)?(time\s+zone|transaction|names|\"[^\"]+\"|[\w.]+))",
    re.I,
)


@dataclass(frozen=True)
class CopyOut:
    """`COPY (query) TO STDOUT` or `COPY table TO STDOUT`: the query, and how its rows are written."""

    query: str
    format: str = "text"  # "text", "csv" or "binary"
    header: bool = False
    delimiter: str | None = None


_COPY = re.compile(
    r"copy\s+(?:\((?P<query>.*)\)|(?P<table>[\w.\"]+)(?:\s*\((?P<columns>[^)]*)\))?)\s+to\s+stdout(?P<options>.*)",
    re.I | re.S,
)
_COPY_OPTION = re.compile(r"(format|header|delimiter)\s*(?:(\w+)|'((?:[^']|'')*)')?|(binary|csv)", re.I)


def copy_statement(sql: str) -> CopyOut | None:
    """The COPY ... TO STDOUT a client sent (what psql's \\copy and ADBC's readers send), or None.
    Raises SqlRefused for a COPY the read-only port does not serve (FROM, or to a file)."""
    text = strip_statement(sql)
    if text[:4].lower() != "copy":
        return None
    match = _COPY.fullmatch(text)
    if match is None:
        raise SqlRefused(
            "only SELECT queries and COPY (query) TO STDOUT are allowed on the SQL port; "
            "got COPY to a file or from a client"
        )
    query = match.group("query")
    if query is None:
        columns = match.group("columns") or "*"
        query = f"SELECT {columns} FROM {match.group('table')}"
    options = match.group("options").strip().removeprefix("with").removeprefix("WITH").strip().strip("()")
    copy = CopyOut(query)
    for option in _COPY_OPTION.finditer(options):
        name, word, quoted, bare = option.groups()
        value = (word or (quoted or "").replace("''", "'") or "").lower()
        if bare:
            copy = replace(copy, format=bare.lower())
        elif name.lower() == "format":
            if value not in ("text", "csv", "binary"):
                raise SqlRefused(f"COPY format {value} is not supported; use text, csv or binary", "0A000")
            copy = replace(copy, format=value)
        elif name.lower() == "header":
            copy = replace(copy, header=value in ("", "true", "on", "1"))
        else:
            copy = replace(copy, delimiter=quoted.replace("''", "'") if quoted is not None else word)
    return copy


@dataclass(frozen=True)
class LocalStatement:
    """The wire protocol's own answer: a command tag and, for SHOW-like statements, one text row."""

    tag: str
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = field(default=())
    transaction: str | None = None  # "begin", "commit" or "rollback"


def strip_statement(sql: str) -> str:
    """The statement without leading comments and whitespace, or a trailing semicolon."""
    return _LEADING_NOISE.sub("", sql).strip().rstrip(";").strip()


def split_statements(sql: str) -> list[str]:
    """A simple-protocol query string split into statements (empty ones dropped). Quotes, comments
    and dollar quoting are respected; text the tokenizer cannot read stays one statement."""
    try:
        tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(sql)
    except SqlglotError:
        return [sql] if strip_statement(sql) else []
    parts: list[str] = []
    start = 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            parts.append(sql[start : token.start])
            start = token.end + 1
    parts.append(sql[start:])
    return [part for part in parts if strip_statement(part)]


def parameter(name: str, session: Mapping[str, str]) -> str | None:
    for source in (session, REPORTED_PARAMETERS, MORE_PARAMETERS):
        for key, value in source.items():
            if key.lower() == name.lower():
                return value
    return None


def local_statement(sql: str, session: Mapping[str, str]) -> LocalStatement | None:
    """The wire protocol's answer to a statement it handles itself, None for one DuckDB runs.
    Raises SqlError for a SET of anything but a client setting and SHOW of an unknown parameter."""
    text = strip_statement(sql)
    words = text.split()
    if not words:
        return None
    first = words[0].upper()
    second = words[1].upper() if len(words) > 1 else ""
    if first in ("BEGIN", "START"):
        return LocalStatement("BEGIN", transaction="begin")
    if first in ("COMMIT", "END"):
        return LocalStatement("COMMIT", transaction="commit")
    if first in ("ROLLBACK", "ABORT"):
        if "TO" in (w.upper() for w in words[1:]):
            return LocalStatement("ROLLBACK")  # to a savepoint: the transaction goes on
        return LocalStatement("ROLLBACK", transaction="rollback")
    if first in ("SAVEPOINT", "RELEASE"):
        return LocalStatement(first)
    if first == "DEALLOCATE":
        return LocalStatement("DEALLOCATE ALL" if words[-1].upper() == "ALL" else "DEALLOCATE")
    if first == "DISCARD":
        return LocalStatement(f"DISCARD {second}".strip())
    if first == "SET":
        return _set(text)
    if first == "RESET":
        return LocalStatement("RESET")
    if first == "SHOW":
        return _show(words[1:], session)
    version = _VERSION.fullmatch(text)
    if version:
        return LocalStatement("SELECT 1", (version.group(1) or "version",), ((VERSION,),))
    setting = _CURRENT_SETTING.fullmatch(text)
    if setting:
        value = parameter(setting.group(1), session)
        if value is None:
            raise SqlError(f'unrecognized configuration parameter "{setting.group(1)}"', "42704")
        return LocalStatement("SELECT 1", (setting.group(2) or "current_setting",), ((value,),))
    return None


def _set(text: str) -> LocalStatement:
    match = _SET.match(text)
    name = " ".join((match.group(2) or match.group(1)).strip('"').lower().split()) if match else text
    if name not in _CLIENT_SETTINGS:
        raise SqlRefused(
            f"SET {name} is not allowed on the SQL port: it is read-only and its settings are fixed "
            "(client settings such as DateStyle, client_encoding or application_name are accepted and ignored)"
        )
    return LocalStatement("SET")


# SHOW's SQL-standard spellings of some parameters.
_SHOW_ALIASES = {"transaction isolation level": "transaction_isolation", "time zone": "TimeZone"}


def _show(words: list[str], session: Mapping[str, str]) -> LocalStatement | None:
    name = " ".join(words).strip('"')
    name = _SHOW_ALIASES.get(" ".join(name.lower().split()), name)
    if name.upper() in ("TABLES", "ALL TABLES"):
        return None  # DuckDB answers it
    if name.upper() == "ALL":
        known = {**REPORTED_PARAMETERS, **MORE_PARAMETERS, **session}
        return LocalStatement("SHOW", ("name", "setting"), tuple(sorted(known.items())))
    value = parameter(name, session)
    if value is None:
        raise SqlError(f'unrecognized configuration parameter "{name}"', "42704")
    return LocalStatement("SHOW", (name.lower(),), ((value,),))
