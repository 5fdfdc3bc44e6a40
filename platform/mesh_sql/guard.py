"""The statement allowlist: the first wall of the SQL port.

A query passes only if two parsers agree it is one harmless read: DuckDB's own parser must see exactly
one statement of its SELECT kind (so nothing else can run), and sqlglot's syntax tree must name only
the product's views (or CTEs), harmless table functions and no denied function. DuckDB's sandbox
(`sandbox.py`) is the second wall, for anything this one misses.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from mesh_sql.errors import SqlRefused, SqlSyntaxError, from_duckdb
from mesh_sql.sandbox import SANDBOX_CONFIG
from mesh_sql.system_catalogs import catalog_relation

# Table functions that read nothing but their arguments.
HARMLESS_TABLE_FUNCTIONS = frozenset({"generate_series", "range", "unnest"})
# Scalar functions that reveal the server (environment, settings, secrets, variables) or read files.
DENIED_FUNCTIONS = frozenset(
    {
        "getenv",
        "current_setting",
        "which_secret",
        "getvariable",
        "read_text",
        "read_blob",
        "glob",
        "query",
        "query_table",
        "sniff_csv",
        "enable_logging",
        "disable_logging",
    }
)
_DENIED_PREFIXES = ("read_", "duckdb_", "pragma_", "iceberg_", "parquet_", "sqlite_", "postgres_", "mysql_")

# Statement kinds DuckDB itself reports as SELECT but that do more than read a product's tables.
_TOP_LEVEL_ALLOWED: tuple[type[exp.Expr], ...] = (
    exp.Select,
    exp.SetOperation,
    exp.Values,
    exp.Subquery,
    exp.Pivot,
    exp.Describe,
    exp.Show,
)
_SHOWABLE = frozenset({"TABLES", "ALL TABLES"})

# Nodes that write, change state or run commands; refused wherever they appear (e.g. inside a CTE).
_FORBIDDEN_NODES: tuple[type[exp.Expr], ...] = tuple(
    node
    for node in (
        getattr(exp, name, None)
        for name in (
            "Insert",
            "Update",
            "Delete",
            "Merge",
            "Create",
            "Drop",
            "Alter",
            "Copy",
            "Command",
            "Set",
            "Pragma",
            "Attach",
            "Detach",
            "Install",
            "Use",
            "Transaction",
            "Commit",
            "Rollback",
            "Into",
            "LoadData",
            "Summarize",
            "Grant",
            "Revoke",
        )
    )
    if isinstance(node, type)
)

_PATHLIKE = re.compile(r"[/\\:]|\.(csv|tsv|json|jsonl|ndjson|parquet|txt|db|duckdb|sqlite|avro|xlsx)\b", re.I)


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed the allowlist: the exact statement text DuckDB will run."""

    sql: str
    kind: str  # "SELECT", "DESCRIBE" or "SHOW"
    param_count: int
    array_params: frozenset[int] = frozenset()  # $n to read as arrays when a client sends them untyped


@dataclass(frozen=True)
class ViewName:
    schema: str
    name: str

    @classmethod
    def parse(cls, qualified: str) -> ViewName:
        schema, _, name = qualified.rpartition(".")
        return cls(schema or "main", name)

    def __str__(self) -> str:
        return self.name if self.schema == "main" else f"{self.schema}.{self.name}"


class QueryGuard:
    """Checks queries against the allowlist for a set of view names (thread-safe)."""

    def __init__(self, views: Iterable[str]) -> None:
        self.views = tuple(ViewName.parse(v) for v in views)
        self._by_key = {(v.schema.lower(), v.name.lower()) for v in self.views}
        self._names = {v.name.lower() for v in self.views}
        # DuckDB's parser runs IMPORT DATABASE's files while parsing: parse only in a sandbox.
        self._parser = duckdb.connect(config=dict(SANDBOX_CONFIG))
        self._lock = threading.Lock()

    def close(self) -> None:
        self._parser.close()

    def tables_hint(self) -> str:
        names = ", ".join(sorted(str(v) for v in self.views)) or "(none)"
        return f"query the product's tables: {names}"

    def check(self, sql: str) -> CheckedQuery:
        """The checked query, or SqlRefused / SqlSyntaxError saying what was refused and why."""
        if not sql.strip():
            raise SqlSyntaxError("the query is empty: send one SELECT")
        statement = self._duckdb_statement(sql)
        tree = self._sqlglot_tree(sql)
        kind = self._check_top_level(tree)
        self._check_nodes(tree)
        return CheckedQuery(statement.query.strip(), kind, _param_count(statement.named_parameters))

    def _duckdb_statement(self, sql: str) -> duckdb.Statement:
        with self._lock:
            try:
                statements = self._parser.extract_statements(sql)
            except duckdb.ParserException as exc:
                raise from_duckdb(exc) from None
            except duckdb.Error:
                # The parser itself tried to act (IMPORT DATABASE reads files while parsing).
                words = sql.split(None, 1)
                got = words[0].upper() if words else "nothing"
                raise SqlRefused(f"only SELECT queries are allowed on the SQL port; got {got}") from None
        if not statements:
            raise SqlSyntaxError("the query is empty: send one SELECT")
        if len(statements) != 1:
            # DuckDB expands a PIVOT without an IN list into a CREATE TYPE and the query.
            hint = "; give PIVOT an explicit IN (...) list" if "pivot" in sql.lower() else ""
            raise SqlRefused(f"one statement at a time on the SQL port; got {len(statements)}{hint}")
        statement = statements[0]
        if statement.type != duckdb.StatementType.SELECT:
            raise SqlRefused(f"only SELECT queries are allowed on the SQL port; got {_kind_name(statement)}")
        return statement

    def _sqlglot_tree(self, sql: str) -> exp.Expr:
        try:
            trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
        except SqlglotError as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SqlRefused(
                f"the SQL port could not check this query ({first_line}); "
                "write it as a plain SELECT over the product's tables"
            ) from None
        if len(trees) != 1:
            raise SqlRefused(f"one statement at a time on the SQL port; got {len(trees)}")
        return trees[0]

    def _check_top_level(self, tree: exp.Expr) -> str:
        if not isinstance(tree, _TOP_LEVEL_ALLOWED):
            raise SqlRefused(f"only SELECT queries are allowed on the SQL port; got {_node_name(tree)}")
        if isinstance(tree, exp.Show):
            what = tree.name.upper()
            if what not in _SHOWABLE:
                raise SqlRefused(f"SHOW {what} is not allowed on the SQL port; SHOW TABLES is")
            return "SHOW"
        if isinstance(tree, exp.Describe):
            return "DESCRIBE"
        return "SELECT"

    def _check_nodes(self, tree: exp.Expr) -> None:
        cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        for node in tree.walk():
            _refuse_node(node)
            if isinstance(node, exp.Table):
                self._check_table(node, cte_names)

    def _check_table(self, table: exp.Table, cte_names: set[str]) -> None:
        if isinstance(table.this, exp.Func):
            name = _function_name(table.this)
            if name not in HARMLESS_TABLE_FUNCTIONS:
                raise SqlRefused(f"table function {name} is not allowed: {self.tables_hint()}")
            return
        if not isinstance(table.this, exp.Identifier):
            raise SqlRefused(f"this table reference is not allowed ({table.sql('duckdb')}): {self.tables_hint()}")
        name = table.name
        if not table.db and not table.catalog and name.lower() in cte_names:
            return
        if self._is_view(table.catalog, table.db, name):
            return
        shown = ".".join(part for part in (table.catalog, table.db, name) if part)
        if catalog_relation(table, cte_names) is not None:
            # The emulated catalogs (mesh_sql.pgcatalog) answer a query that reads only them; DuckDB's
            # own would show the engine, not the product.
            raise SqlRefused(
                f"{shown}: a query reads either the system catalogs or the product's tables, not both; "
                f"{self.tables_hint()}"
            )
        if _PATHLIKE.search(name):
            raise SqlRefused(f"reading files is not allowed on the SQL port ({shown!r}): {self.tables_hint()}")
        raise SqlRefused(f"table {shown} is not a table of this product: {self.tables_hint()}")

    def _is_view(self, catalog: str, schema: str, name: str) -> bool:
        if catalog and catalog.lower() != "memory":
            return False
        if schema:
            return (schema.lower(), name.lower()) in self._by_key
        return name.lower() in self._names


def refuse_writes(tree: exp.Expr, allowed_functions: frozenset[str] = frozenset()) -> None:
    """SqlRefused unless the query only reads: a SELECT, nothing that writes or changes state anywhere
    in it, no denied function (but `allowed_functions`), no table function but the harmless ones."""
    if not isinstance(tree, exp.Select | exp.SetOperation | exp.Subquery | exp.Values):
        raise SqlRefused(f"only SELECT queries are allowed on the SQL port; got {_node_name(tree)}")
    for node in tree.walk():
        _refuse_node(node, allowed_functions)
        if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier):
            if isinstance(node.this, exp.Unnest | exp.Explode | exp.GenerateSeries):
                continue
            name = _function_name(node.this) if isinstance(node.this, exp.Func) else node.sql()
            if name not in HARMLESS_TABLE_FUNCTIONS:
                raise SqlRefused(f"table function {name} is not allowed on the SQL port")


def _refuse_node(node: exp.Expr, allowed_functions: frozenset[str] = frozenset()) -> None:
    if isinstance(node, _FORBIDDEN_NODES):
        raise SqlRefused(f"only SELECT queries are allowed on the SQL port; got {_node_name(node)}")
    if isinstance(node, exp.Func):
        name = _function_name(node)
        if name in allowed_functions:
            return
        if name in DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES):
            raise SqlRefused(f"function {name} is not allowed on the SQL port")


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return node.key


def _node_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.name).upper()
    return node.key.upper()


def _kind_name(statement: duckdb.Statement) -> str:
    # DuckDB reports INSTALL as LOAD and CHECKPOINT as CALL; the statement's own first word is clearer.
    first = statement.query.strip().split(None, 1)
    word = first[0].upper() if first else ""
    return word if word.isalpha() else statement.type.name


def _param_count(names: set[str]) -> int:
    if not names:
        return 0
    if not all(n.isdigit() for n in names):
        raise SqlRefused("named parameters are not supported on the SQL port; use $1, $2, ...")
    return max(int(n) for n in names)
