"""Reading a product's tables for the output ports: DuckDB over the Iceberg table, the current snapshot
or any earlier one, with masking applied and an in-memory cache cleared on every commit."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa
from open_data_contract_standard.model import SchemaProperty
from pyiceberg.table import Table

from mesh_adapters.snapshot_scan import SnapshotRelations
from mesh_sdk.storage.maintenance import same_data
from mesh_sdk.storage.snapshots import Snapshot, listed_snapshots, readable
from mesh_sql.quoting import quote_identifier

log = logging.getLogger(__name__)

FILTER_OPS = {"": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
MASK = "***"


class QueryError(ValueError):
    """A request the port cannot answer; the message names the problem (a 4xx, never a 500)."""


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    snapshot_id: int | None


class HotCopy:
    """The current snapshot of the history in memory: point lookups and pages without a trip to S3.
    Appended with each committed batch; reads as of earlier snapshots still go to the lakehouse. Above
    `max_rows` it switches itself off and every read goes to the lakehouse."""

    TABLE = "history"

    def __init__(self, schema: pa.Schema, max_rows: int) -> None:
        self.conn = duckdb.connect()
        self.schema = schema
        self.max_rows = max_rows
        self.rows = 0
        self.snapshot_id: int | None = None
        self.enabled = False
        self._lock = threading.Lock()

    def holds(self, snapshot_id: int) -> bool:
        return self.enabled and self.snapshot_id == snapshot_id

    def follow(self, table: Table) -> bool:
        """After a compaction of the snapshot the copy holds: the same rows, so the copy holds the
        compaction's snapshot too, without a reload. Returns whether the copy holds the current one."""
        current = table.current_snapshot()
        if current is None:
            return False
        with self._lock:
            if self.enabled and same_data(table, self.snapshot_id, current.snapshot_id):
                self.snapshot_id = current.snapshot_id
        return self.holds(current.snapshot_id)

    def load(self, table: Table) -> None:
        snapshot = table.current_snapshot()
        total = int(snapshot.summary["total-records"] or 0) if snapshot and snapshot.summary else 0
        if total > self.max_rows:
            log.info(
                "history has %d rows, above the in-memory limit %d: reads go to the lakehouse", total, self.max_rows
            )
            return
        rows = table.scan().to_arrow().select(self.schema.names) if snapshot else self.schema.empty_table()
        with self._lock:
            self.conn.register("incoming", rows.cast(self.schema))
            self.conn.execute(f"CREATE OR REPLACE TABLE {self.TABLE} AS SELECT * FROM incoming")
            self.conn.unregister("incoming")
            self.rows = rows.num_rows
            self.snapshot_id = snapshot.snapshot_id if snapshot else None
            self.enabled = True

    def _too_big_with(self, rows: pa.Table) -> bool:
        """Switch the copy off (for good) when `rows` would take it past `max_rows`; call under the lock."""
        if self.rows + rows.num_rows <= self.max_rows:
            return False
        log.info("the table passed %d rows: reads go to the lakehouse from now on", self.max_rows)
        self.enabled = False
        self.conn.execute(f"DROP TABLE IF EXISTS {self.TABLE}")
        return True

    def replace(self, key_columns: Sequence[str], keys: pa.Table, rows: pa.Table, snapshot_id: int) -> None:
        """Remove the rows with these keys, add `rows`: one applied batch of a current state."""
        with self._lock:
            if not self.enabled:
                return
            if self._too_big_with(rows):
                return
            match = " AND ".join(
                f"{self.TABLE}.{quote_identifier(c)} = gone.{quote_identifier(c)}" for c in key_columns
            )
            self.conn.register("gone", keys)
            self.conn.register("incoming", rows.cast(self.schema))
            self.conn.execute(f"DELETE FROM {self.TABLE} USING gone WHERE {match}")
            self.conn.execute(f"INSERT INTO {self.TABLE} SELECT * FROM incoming")
            self.conn.unregister("gone")
            self.conn.unregister("incoming")
            counted = self.conn.execute(f"SELECT count(*) FROM {self.TABLE}").fetchone()
            self.rows = int(counted[0]) if counted else 0
            self.snapshot_id = snapshot_id

    def append(self, rows: pa.Table, snapshot_id: int) -> None:
        with self._lock:
            if not self.enabled:
                return
            if self._too_big_with(rows):
                return
            self.conn.register("incoming", rows)
            self.conn.execute(f"INSERT INTO {self.TABLE} SELECT * FROM incoming")
            self.conn.unregister("incoming")
            self.rows += rows.num_rows
            self.snapshot_id = snapshot_id


class TableReader:
    """The one way output ports read a product's table, whichever kind it is (a history, a current
    state, a derived table): REST, GraphQL, SQL and the observation port."""

    def __init__(
        self,
        table: Callable[[], Table],
        connect: Callable[[], duckdb.DuckDBPyConnection],
        props: list[SchemaProperty],
        key_columns: list[str],
        *,
        cache_entries: int = 1024,
        max_page: int = 1000,
        hot: HotCopy | None = None,
    ) -> None:
        self._table = table
        self.hot = hot
        self._duck = connect()
        self.props = {p.name: p for p in props if p.name}
        self.key_columns = key_columns
        self.max_page = max_page
        self.masked: frozenset[str] = frozenset()
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._cache_entries = cache_entries
        self._relations = SnapshotRelations()
        self._lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0

    def table(self) -> Table:
        """The table as its writer last committed it."""
        return self._table()

    # --- cache ---------------------------------------------------------------------------------------

    def invalidate(self) -> None:
        """A new snapshot committed (or the policy changed): every cached answer is stale."""
        with self._lock:
            self._cache.clear()

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                self.cache_hits += 1
                return self._cache[key]
        value = compute()
        with self._lock:
            self.cache_misses += 1
            self._cache[key] = value
            if len(self._cache) > self._cache_entries:
                self._cache.popitem(last=False)
        return value

    # --- snapshots -----------------------------------------------------------------------------------

    def snapshots(self) -> list[Snapshot]:
        """The snapshots a reader may travel to, oldest first."""
        return listed_snapshots(self._table())

    def resolve_snapshot(self, as_of: str | None) -> int | None:
        """`as_of` is a snapshot id or an ISO-8601 time; None means the current snapshot."""
        table = self._table()
        if as_of is None or as_of == "":
            current = table.current_snapshot()
            return current.snapshot_id if current else None
        if _is_snapshot_id(as_of):
            snapshot = table.snapshot_by_id(int(as_of))
            if snapshot is None or not readable([snapshot]):
                raise QueryError(f"as_of: no snapshot {as_of}; list them at /snapshots")
            return int(as_of)
        try:
            when = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
        except ValueError:
            raise QueryError(f"as_of: {as_of!r} is neither a snapshot id nor an ISO-8601 time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        ms = int(when.timestamp() * 1000)
        candidates = [s for s in readable(table.snapshots()) if s.timestamp_ms <= ms]
        if not candidates:
            raise QueryError(f"as_of: the table has no snapshot as early as {as_of}")
        return max(candidates, key=lambda s: s.timestamp_ms).snapshot_id

    def has_snapshot(self, snapshot_id: int) -> bool:
        snapshot = self._table().snapshot_by_id(snapshot_id)
        return snapshot is not None and bool(readable([snapshot]))

    # --- relations -----------------------------------------------------------------------------------

    def relation(self, snapshot_id: int | None, hide: frozenset[str] = frozenset()) -> str:
        """SQL for the history in the lakehouse as of a snapshot, masked columns (the policies' and
        `hide`, what one consumer may not see) replaced."""
        if snapshot_id is None:
            cols = ", ".join(f"CAST(NULL AS VARCHAR) AS {quote_identifier(c)}" for c in self.props)
            return f"(SELECT {cols} WHERE false)"
        return self._mask(self._relations.relation(self._table(), snapshot_id), hide)

    def mask_for(self, hide: frozenset[str]) -> frozenset[str]:
        return (self.masked | hide) & frozenset(self.props)

    def _mask(self, relation: str, hide: frozenset[str]) -> str:
        masked = self.mask_for(hide)
        if not masked:
            return relation
        # Text is replaced by the mask; other types by NULL, so a column keeps its type on every port.
        replaced = ", ".join(
            f"'{MASK}' AS {quote_identifier(c)}"
            if (self.props[c].logicalType or "string") == "string"
            else f"NULL AS {quote_identifier(c)}"
            for c in sorted(masked)
        )
        return f"(SELECT * REPLACE ({replaced}) FROM {relation})"

    def _source(
        self, snapshot_id: int | None, hide: frozenset[str] = frozenset()
    ) -> tuple[duckdb.DuckDBPyConnection, str]:
        """Where to read a snapshot: the in-memory copy when it holds that snapshot, else the lakehouse."""
        hot = self.hot
        if hot is not None and snapshot_id is not None and hot.holds(snapshot_id):
            return hot.conn, self._mask(HotCopy.TABLE, hide)
        return self._duck, self.relation(snapshot_id, hide)

    def _run(self, sql: str, params: Sequence[Any], conn: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
        cursor = (conn or self._duck).cursor()
        try:
            return cursor.execute(sql, list(params)).to_arrow_table()
        finally:
            cursor.close()

    # --- the queries the ports offer -----------------------------------------------------------------

    def page(
        self,
        filters: Mapping[str, str],
        sort: str | None,
        limit: int,
        cursor: str | None,
        as_of: str | None,
        hide: frozenset[str] = frozenset(),
    ) -> Page:
        if not 1 <= limit <= self.max_page:
            raise QueryError(f"limit must be between 1 and {self.max_page}")
        position: list[Any] | None = None
        if cursor:
            snapshot_id, position, sort = self._decode_cursor(cursor)
        else:
            snapshot_id = self.resolve_snapshot(as_of)
        sort_col, descending = self._sort(sort)
        where, params = self._where(filters)
        order_cols = [sort_col, *[k for k in self.key_columns if k != sort_col]]
        if position is not None:
            where.append(self._after(order_cols, descending))
            params.extend(_flatten_position(position))
        direction = "DESC" if descending else "ASC"
        order = ", ".join(f"{quote_identifier(c)} {direction}" for c in order_cols)
        conn, relation = self._source(snapshot_id, hide)
        sql = (
            f"SELECT * FROM {relation} "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + f"ORDER BY {order} LIMIT {limit + 1}"
        )
        key = ("list", snapshot_id, self.mask_for(hide), sql, tuple(map(str, params)))
        rows: list[dict[str, Any]] = self._cached(key, lambda: self._run(sql, params, conn).to_pylist())
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            sort_text = f"-{sort_col}" if descending else sort_col
            next_cursor = self._encode_cursor(snapshot_id, [last[c] for c in order_cols], sort_text)
        return Page(rows, next_cursor, snapshot_id)

    def lookup(
        self, key: Sequence[str], as_of: str | None, hide: frozenset[str] = frozenset()
    ) -> dict[str, Any] | None:
        if len(key) != len(self.key_columns):
            raise QueryError(f"a key has {len(self.key_columns)} part(s): {', '.join(self.key_columns)}")
        snapshot_id = self.resolve_snapshot(as_of)
        where = " AND ".join(f"CAST({quote_identifier(c)} AS VARCHAR) = ?" for c in self.key_columns)
        conn, relation = self._source(snapshot_id, hide)
        sql = f"SELECT * FROM {relation} WHERE {where} LIMIT 1"
        rows: list[dict[str, Any]] = self._cached(
            ("lookup", snapshot_id, self.mask_for(hide), *key), lambda: self._run(sql, list(key), conn).to_pylist()
        )
        return rows[0] if rows else None

    def aggregate(self, sql_template: str, snapshot_id: int | None = None) -> Any:
        """One value from a query over `{table}` (quality checks, freshness)."""
        sid = snapshot_id if snapshot_id is not None else self.resolve_snapshot(None)
        conn, relation = self._source(sid)
        result = self._run(sql_template.replace("{table}", relation), [], conn)
        return result.column(0)[0].as_py() if result.num_rows else None

    # --- helpers -------------------------------------------------------------------------------------

    def _sort(self, sort: str | None) -> tuple[str, bool]:
        if not sort:
            return self.key_columns[0], False
        descending = sort.startswith("-")
        column = sort.lstrip("-+")
        if column not in self.props:
            raise QueryError(f"sort: unknown column {column!r}; sortable columns: {', '.join(self.props)}")
        return column, descending

    def _where(self, filters: Mapping[str, str]) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        for name, value in filters.items():
            column, _, op = name.partition("__")
            if column not in self.props:
                raise QueryError(f"filter: unknown column {column!r}; columns: {', '.join(self.props)}")
            if op == "in":
                values = value.split(",")
                where.append(f"{quote_identifier(column)} IN ({', '.join('?' for _ in values)})")
                params.extend(self._typed(column, v) for v in values)
                continue
            if op not in FILTER_OPS:
                raise QueryError(
                    f"filter: unknown operator {op!r} on {column}; use one of eq, ne, gt, gte, lt, lte, in"
                )
            where.append(f"{quote_identifier(column)} {FILTER_OPS[op]} ?")
            params.append(self._typed(column, value))
        return where, params

    def _typed(self, column: str, value: str) -> Any:
        kind = self.props[column].logicalType
        try:
            if kind == "integer":
                return int(value)
            if kind == "number":
                return float(value)
            if kind == "boolean":
                return value.lower() in ("true", "1", "yes")
            if kind == "timestamp":
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            if kind == "date":
                return date.fromisoformat(value)
        except ValueError:
            raise QueryError(f"filter: {column} is {kind}; {value!r} is not") from None
        return value

    @staticmethod
    def _after(order_cols: list[str], descending: bool) -> str:
        """Keyset condition: rows strictly after the cursor position in the sort order."""
        op = "<" if descending else ">"
        terms = []
        for i, col in enumerate(order_cols):
            equal = [f"{quote_identifier(c)} = ?" for c in order_cols[:i]]
            terms.append("(" + " AND ".join([*equal, f"{quote_identifier(col)} {op} ?"]) + ")")
        return "(" + " OR ".join(terms) + ")"

    @staticmethod
    def _encode_cursor(snapshot_id: int | None, position: list[Any], sort: str) -> str:
        payload = {
            "s": snapshot_id,
            "p": [v.isoformat() if isinstance(v, datetime | date) else v for v in position],
            "o": sort,
        }
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    def _decode_cursor(self, cursor: str) -> tuple[int | None, list[Any], str]:
        try:
            payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            sort = payload["o"]
            column, _ = self._sort(sort)
            order_cols = [column, *[k for k in self.key_columns if k != column]]
            position = [
                self._typed(c, v) if isinstance(v, str) else v for c, v in zip(order_cols, payload["p"], strict=True)
            ]
            return payload["s"], position, sort
        except (ValueError, KeyError, TypeError):
            raise QueryError("cursor: not a cursor this port issued; start again without one") from None


def _is_snapshot_id(as_of: str) -> bool:
    # str.isdigit() also accepts digits int() refuses ("²"): only ASCII digits name a snapshot.
    return as_of.isascii() and as_of.isdigit()


def _flatten_position(position: list[Any]) -> list[Any]:
    """Parameters for the keyset condition built by `_after`, in its order."""
    out: list[Any] = []
    for i in range(len(position)):
        out.extend(position[: i + 1])
    return out


def mask_columns(readers: Iterable[TableReader], masked: frozenset[str]) -> None:
    """A policy changed: each reader masks the columns it has of `masked`, and forgets its answers."""
    for reader in readers:
        reader.masked = masked & set(reader.props)
        reader.invalidate()


def snapshots_relation(reader: TableReader) -> str:
    """The table's readable snapshots as an SQL relation (the `<table>_snapshots` view of the SQL port)."""
    rows = [
        f"({s.snapshot_id}, TIMESTAMPTZ '{s.committed_at.isoformat()}', {s.added_rows}, {s.total_rows})"
        for s in reader.snapshots()
    ] or ["(NULL, NULL, NULL, NULL)"]
    return (
        f"(SELECT * FROM (VALUES {', '.join(rows)}) s(snapshot_id, committed_at, added_rows, total_rows) "
        "WHERE snapshot_id IS NOT NULL)"
    )


def sql_views(
    readers: Mapping[str, TableReader],
    name_of: Callable[[str], str],
    as_of: str | None,
    hide: frozenset[str],
    recent_snapshots: int,
) -> dict[str, str]:
    """The relations the SQL port serves: every table under its qualified name (`name_of(port)`), as
    of `as_of` when given, with `hide` masked; each table's snapshots (`<table>_snapshots`); and its
    most recent snapshots as views of their own (`<table>_at_<snapshot id>`), for clients that cannot
    pass `as_of`."""
    views: dict[str, str] = {}
    snapshots = snapshots_as_of(readers, as_of)
    for port, reader in readers.items():
        qualified = name_of(port)
        views[qualified] = reader.relation(snapshots[port], hide)
        views[f"{qualified}_snapshots"] = snapshots_relation(reader)
        for earlier in reader.snapshots()[-recent_snapshots:] if recent_snapshots else []:
            views[f"{qualified}_at_{earlier.snapshot_id}"] = reader.relation(earlier.snapshot_id, hide)
    return views


def snapshots_as_of(readers: Mapping[str, TableReader], as_of: str | None) -> dict[str, int | None]:
    """Each table's snapshot for one `as_of` of a product with several tables. A snapshot id names a
    snapshot of one of them; the others are read as they were when it was committed (empty if they
    did not exist yet). A time applies to every table; a table younger than it is empty."""
    if as_of is None or as_of == "" or len(readers) == 1:
        return {port: reader.resolve_snapshot(as_of) for port, reader in readers.items()}
    when = as_of
    if _is_snapshot_id(as_of):
        owner = next((r for r in readers.values() if r.has_snapshot(int(as_of))), None)
        if owner is None:
            raise QueryError(f"as_of: no snapshot {as_of} in any of {', '.join(readers)}; list them at /snapshots")
        when = next(s.committed_at for s in owner.snapshots() if s.snapshot_id == int(as_of)).isoformat()
    resolved: dict[str, int | None] = {}
    for port, reader in readers.items():
        if _is_snapshot_id(as_of) and reader.has_snapshot(int(as_of)):
            resolved[port] = int(as_of)
            continue
        try:
            resolved[port] = reader.resolve_snapshot(when)
        except QueryError as exc:
            if "no snapshot as early" not in str(exc):
                raise
            resolved[port] = None
    return resolved
