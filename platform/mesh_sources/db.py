"""What both source databases need from PostgreSQL: a connection that fails with a useful message, the
schema files shipped with this package, and id sequences.

The schemas give their tables plain `bigint` keys without defaults. The simulators draw new
ids from sequences of their own rather than `max(id) + 1`, because a deleted row's id must never come
back: a CDC consumer would mistake the newcomer for the erased customer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from mesh_generate.errors import GeneratorError

CONNECT_TIMEOUT_S = 5


class SourceUnavailable(GeneratorError):
    """The source database cannot be used: says which one and what to do."""


def describe(dsn: str) -> str:
    """`database legacy on PostgreSQL at 127.0.0.1:15432`, without the password."""
    info = conninfo_to_dict(dsn)
    return (
        f"database {info.get('dbname', '?')} on PostgreSQL at {info.get('host', 'localhost')}:{info.get('port', 5432)}"
    )


def connect(dsn: str, *, autocommit: bool = False) -> psycopg.Connection[TupleRow]:
    """A connection, or a `SourceUnavailable` naming the database and the fix."""
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        # "connection failed: connection to server at ..., port ... failed: Connection refused\n\tIs the
        # server running ...?": the address is said below, the reason is what follows the last colon.
        lines = str(exc).strip().splitlines()
        reason = lines[0].rsplit(": ", 1)[-1].strip() if lines else type(exc).__name__
        if "does not exist" in reason:
            raise SourceUnavailable(f"{describe(dsn)}: {reason}; `mesh up` creates the mesh's databases") from None
        raise SourceUnavailable(
            f"cannot reach {describe(dsn)}: is the stack up? start the stack with `mesh up` ({reason})"
        ) from None


def apply_schema(conn: psycopg.Connection[TupleRow], name: str) -> None:
    """Run one of the idempotent DDL files shipped beside this module (`legacy.sql`, `content.sql`)."""
    ddl = files("mesh_sources").joinpath(name).read_text()
    conn.execute(sql.SQL(ddl))  # a trusted file of several statements: simple query protocol, no parameters


def ensure_id_sequence(conn: psycopg.Connection[TupleRow], sequence: str, table: str, column: str) -> None:
    """Create `sequence` if missing and move it past every id in `table`, so it never hands out a used id.

    Idempotent and never moves a sequence backwards (ids of deleted rows stay used)."""
    conn.execute(sql.SQL("CREATE SEQUENCE IF NOT EXISTS {}").format(sql.Identifier(sequence)))
    query = sql.SQL(
        "SELECT setval({seq}, greatest(m.top, s.last_value)) FROM {seq_table} s, "
        "(SELECT max({column}) AS top FROM {table}) m WHERE m.top IS NOT NULL "
        "AND (m.top > s.last_value OR NOT s.is_called)"
    ).format(
        seq=sql.Literal(sequence),
        seq_table=sql.Identifier(sequence),
        column=sql.Identifier(column),
        table=sql.Identifier(table),
    )
    conn.execute(query)


@dataclass(frozen=True)
class SeedReport:
    """What an install did: `seeded` is False when the data was already there (nothing inserted)."""

    seeded: bool
    rows: dict[str, int] = field(default_factory=dict)  # rows inserted, by table

    def describe(self) -> str:
        if not self.seeded:
            return "already seeded"
        return "seeded " + ", ".join(f"{count} {table}" for table, count in self.rows.items())


def copy_rows(
    conn: psycopg.Connection[TupleRow], table: str, columns: Sequence[str], rows: Sequence[tuple[object, ...]]
) -> None:
    """Bulk-insert with COPY into `table` (or `schema.table`): seeding ten thousand customers takes a
    fraction of a second."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


class Closing:
    """What holds a connection closes it at the end of a `with` block (and on `close()`)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
