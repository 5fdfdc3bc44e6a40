"""The SQL port's query engine: read-only DuckDB over a product's views, behind two walls (the
allowlist in `guard.py`, DuckDB's sandbox in `sandbox.py`), with a time limit and a row limit."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from mesh_sql.errors import SqlCanceled, SqlError, SqlTimeout, from_duckdb
from mesh_sql.guard import CheckedQuery, QueryGuard, ViewName
from mesh_sql.parameters import VERSION, server_parameters
from mesh_sql.pgcatalog import CatalogCache, ColumnDoc, TableDoc, TableNotes, claim
from mesh_sql.quoting import quote_identifier
from mesh_sql.sandbox import lock_down, storage_prefixes
from mesh_sql.values import column_values

ConnectionFactory = Callable[[], duckdb.DuckDBPyConnection]

# Types that Arrow cannot carry faithfully (the time zone of TIMETZ, BIT, BIGNUM, UNION): DuckDB
# renders them as text instead, so every consumer of a result sees the same value.
_AS_TEXT = re.compile(r"\b(TIME WITH TIME ZONE|BIT|BIGNUM|VARINT|UNION)\b")
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB's type, e.g. "DECIMAL(18,3)" or "TIMESTAMP WITH TIME ZONE"


@dataclass(frozen=True)
class QueryResult:
    """Columns and rows of a query; the rows are an Arrow table (for an Arrow endpoint as is)."""

    columns: tuple[Column, ...]
    table: pa.Table
    truncated: bool = False  # True when the row limit cut the result short
    row_limit: int | None = None

    @property
    def row_count(self) -> int:
        return int(self.table.num_rows)

    def rows(self) -> list[tuple[Any, ...]]:
        """The rows as tuples of Python values (see `values.column_values`)."""
        columns = [column_values(self.table.column(i)) for i in range(self.table.num_columns)]
        return list(zip(*columns, strict=True)) if columns else [() for _ in range(self.row_count)]


class Cancellation:
    """Lets another thread interrupt the query it is attached to (a client's cancel request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: _Interrupter | None = None

    def cancel(self) -> bool:
        """Interrupt the running query, if any; True if there was one."""
        with self._lock:
            running = self._running
            if running is not None:
                running.interrupt("cancel")
            return running is not None

    def _attach(self, interrupter: _Interrupter | None) -> None:
        with self._lock:
            self._running = interrupter


class _Interrupter:
    """Interrupts one DuckDB cursor on timeout or cancel, and remembers why."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, timeout_s: float | None) -> None:
        self._cursor = cursor
        self._lock = threading.Lock()
        self._done = False
        self.reason: str | None = None
        self._timer = threading.Timer(timeout_s, self.interrupt, args=("timeout",)) if timeout_s else None
        if self._timer is not None:
            self._timer.daemon = True

    def start(self) -> None:
        if self._timer is not None:
            self._timer.start()

    def interrupt(self, reason: str) -> None:
        with self._lock:
            if self._done or self.reason is not None:
                return
            self.reason = reason
            self._cursor.interrupt()

    def finish(self) -> None:
        with self._lock:
            self._done = True
        if self._timer is not None:
            self._timer.cancel()


class _Generation:
    """One sandboxed connection with the views of one refresh, and the tables the system catalogs
    describe for it; closed once no query uses it."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        guard: QueryGuard,
        tables: tuple[TableDoc, ...],
        database: str,
        catalogs: CatalogCache,
    ) -> None:
        self.conn = conn
        self.guard = guard
        self.tables = tables
        self.database = database
        self.catalogs = catalogs
        self.users = 0
        self.retired = False
        self._names = [n for v in guard.views for n in (str(v), v.name)]

    def route(self, sql: str, database: str | None) -> tuple[CheckedQuery, duckdb.DuckDBPyConnection]:
        """The checked query and the connection it runs on: the catalogs' for a query that reads
        them, the views' for any other."""
        claimed = claim(sql, self._names)
        if claimed is not None:
            return claimed, self.catalogs.get(self.tables, database or self.database).conn
        return self.guard.check(sql), self.conn

    def close(self) -> None:
        self.conn.close()
        self.guard.close()


class SqlEngine:
    """Read-only SQL over a product's views. Thread-safe; `refresh` swaps views without breaking
    queries in flight (they finish on the connection they started on)."""

    def __init__(
        self,
        connect: ConnectionFactory,
        views: Mapping[str, str],
        *,
        timeout_s: float | None = 30.0,
        max_rows: int | None = 10_000,
        extra_directories: Iterable[str] = (),
        notes: Mapping[str, TableNotes] | None = None,
        database: str = "mesh",
    ) -> None:
        """`connect` returns a fresh DuckDB connection (extensions loaded, S3 secret created);
        `views` maps view names ("events_v1" or "playback.events_v1") to relations, e.g.
        "iceberg_scan('s3://lakehouse/...metadata.json')". Only the directories the relations name
        (plus `extra_directories`) stay readable. `notes` add primary keys and descriptions to what
        the system catalogs say of a view (by its name in `views`); `database` is the name they give
        the database."""
        self._connect = connect
        self._notes = dict(notes or {})
        self._database = database
        self._catalogs = CatalogCache(VERSION, server_parameters())
        self.timeout_s = timeout_s
        self.max_rows = max_rows
        self._extra_directories = tuple(extra_directories)
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._current: _Generation | None = None
        self._views: dict[str, str] = {}
        self.refresh(views)

    @property
    def views(self) -> Mapping[str, str]:
        return dict(self._views)

    def refresh(self, views: Mapping[str, str]) -> None:
        """Serve these views from now on (e.g. after a new Iceberg snapshot). On failure the previous
        views stay in service and the error is raised."""
        with self._refresh_lock:
            generation = self._build(views)
            with self._lock:
                old, self._current = self._current, generation
                self._views = dict(views)
            self._retire(old)

    def _build(self, views: Mapping[str, str]) -> _Generation:
        conn = self._connect()
        try:
            unqualified: set[str] = set()
            for qualified, relation in views.items():
                view = ViewName.parse(qualified)
                target = f"{quote_identifier(view.schema)}.{quote_identifier(view.name)}"
                try:
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(view.schema)}")
                    conn.execute(f"CREATE OR REPLACE VIEW {target} AS SELECT * FROM {relation}")
                    # Unqualified names work too (search_path is per cursor, so an alias in main instead).
                    if view.schema != "main" and view.name.lower() not in unqualified:
                        conn.execute(
                            f"CREATE VIEW IF NOT EXISTS main.{quote_identifier(view.name)} AS SELECT * FROM {target}"
                        )
                except duckdb.Error as exc:
                    raise SqlError(f"could not create the view {qualified}: {exc}") from exc
                unqualified.add(view.name.lower())
            tables = [self._describe_view(conn, ViewName.parse(name), self._notes.get(name)) for name in views]
            lock_down(conn, [*storage_prefixes(views.values()), *self._extra_directories])
            return _Generation(conn, QueryGuard(views), tuple(tables), self._database, self._catalogs)
        except BaseException:
            conn.close()
            raise

    @staticmethod
    def _describe_view(conn: duckdb.DuckDBPyConnection, view: ViewName, notes: TableNotes | None) -> TableDoc:
        notes = notes or TableNotes()
        described = conn.execute(f"DESCRIBE {quote_identifier(view.schema)}.{quote_identifier(view.name)}").fetchall()
        columns = tuple(
            ColumnDoc(str(name), _delivered_type(str(kind)), notes.columns.get(str(name)))
            for name, kind, *_ in described
        )
        return TableDoc(view.schema, view.name, columns, notes.primary_key, notes.description)

    def _acquire(self) -> _Generation:
        with self._lock:
            generation = self._current
            if generation is None:
                raise SqlError("the SQL engine is closed", "57P01")
            generation.users += 1
            return generation

    def _release(self, generation: _Generation) -> None:
        with self._lock:
            generation.users -= 1
            close = generation.retired and generation.users == 0
        if close:
            generation.close()

    def _retire(self, generation: _Generation | None) -> None:
        if generation is None:
            return
        with self._lock:
            generation.retired = True
            close = generation.users == 0
        if close:
            generation.close()

    def close(self) -> None:
        with self._lock:
            old, self._current = self._current, None
        self._retire(old)
        self._catalogs.close()

    def __enter__(self) -> SqlEngine:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def check(self, sql: str, *, database: str | None = None) -> CheckedQuery:
        """The allowlist's verdict on a query, without running it (SqlRefused / SqlSyntaxError).
        `database`: the name the client connected with, which the system catalogs answer with."""
        generation = self._acquire()
        try:
            return generation.route(sql, database)[0]
        finally:
            self._release(generation)

    def describe(self, sql: str, *, database: str | None = None) -> tuple[Column, ...]:
        """The columns a query would return, without running it."""
        generation = self._acquire()
        try:
            checked, conn = generation.route(sql, database)
            cursor = conn.cursor()
            try:
                cursor.execute(f"SELECT * FROM (\n{checked.sql}\n) LIMIT 0", [None] * checked.param_count)
                return tuple(Column(name, _delivered_type(kind)) for name, kind in _description(cursor))
            except duckdb.Error as exc:
                raise from_duckdb(exc) from None
            finally:
                cursor.close()
        finally:
            self._release(generation)

    def execute(
        self,
        sql: str,
        params: Sequence[object] = (),
        *,
        cancellation: Cancellation | None = None,
        timeout_s: float | None = None,
        max_rows: int | None = None,
        database: str | None = None,
    ) -> QueryResult:
        """Run a query with positional parameters ($1, $2, ... or ?). `timeout_s` and `max_rows`
        override the engine's limits for this query (None: the engine's)."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        limit = self.max_rows if max_rows is None else max_rows
        generation = self._acquire()
        try:
            checked, conn = generation.route(sql, database)
            if len(params) != checked.param_count:
                raise SqlError(
                    f"the query has {checked.param_count} parameter(s) but {len(params)} value(s) were given",
                    "08P01",
                )
            cursor = conn.cursor()
            interrupter = _Interrupter(cursor, timeout)
            if cancellation is not None:
                cancellation._attach(interrupter)
            interrupter.start()
            try:
                return _run(cursor, checked, list(params), limit)
            except (duckdb.Error, pa.ArrowException, OSError) as exc:
                if interrupter.reason == "timeout":
                    raise SqlTimeout(f"canceling statement due to statement timeout ({timeout:g} s)") from None
                if interrupter.reason == "cancel":
                    raise SqlCanceled("canceling statement due to user request") from None
                raise from_duckdb(exc) from None
            finally:
                interrupter.finish()
                if cancellation is not None:
                    cancellation._attach(None)
                cursor.close()
        finally:
            self._release(generation)


def _description(cursor: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [(str(d[0]), str(d[1])) for d in (cursor.description or [])]


def _delivered_type(duckdb_type: str) -> str:
    return "VARCHAR" if _AS_TEXT.search(_QUOTED.sub("", duckdb_type)) else duckdb_type


def _run(
    cursor: duckdb.DuckDBPyConnection, checked: CheckedQuery, params: list[object], limit: int | None
) -> QueryResult:
    cursor.execute(checked.sql, params)
    described = _description(cursor)
    columns = tuple(Column(name, _delivered_type(kind)) for name, kind in described)
    if any(c.type != kind for c, (_, kind) in zip(columns, described, strict=True)):
        # Rare: re-run with those columns cast to text by DuckDB.
        inner = ", ".join(f"c{i}" for i in range(len(columns)))
        outer = ", ".join(
            f"CAST(c{i} AS VARCHAR) AS {quote_identifier(c.name)}"
            if c.type != kind
            else f"c{i} AS {quote_identifier(c.name)}"
            for i, (c, (_, kind)) in enumerate(zip(columns, described, strict=True))
        )
        cursor.execute(f"SELECT {outer} FROM (\n{checked.sql}\n) AS _q({inner})", params)
    reader = cursor.to_arrow_reader(100_000 if limit is None else min(limit + 1, 100_000))
    batches: list[pa.RecordBatch] = []
    total = 0
    for batch in reader:
        batches.append(batch)
        total += batch.num_rows
        if limit is not None and total > limit:
            break
    table = pa.Table.from_batches(batches, schema=reader.schema)
    truncated = limit is not None and total > limit
    if truncated:
        table = table.slice(0, limit)
    return QueryResult(columns, table, truncated, limit)
