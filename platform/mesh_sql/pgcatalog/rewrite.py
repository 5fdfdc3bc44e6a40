"""PostgreSQL's dialect of the catalog queries clients send, rewritten for the emulated catalogs in
DuckDB: relations of pg_catalog and information_schema to the schemas that emulate them, PostgreSQL's
functions to the macros that emulate them, `OPERATOR(pg_catalog.~)`, `::regclass` and the like to
what DuckDB can run, and unnamed result columns named as PostgreSQL names them."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from mesh_sql.errors import SqlRefused
from mesh_sql.system_catalogs import SCHEMAS, catalog_relation

HELPERS = "mesh_pg"  # the macros and the tables only they read

# PostgreSQL functions the catalogs emulate (macros in HELPERS); other functions run as DuckDB's.
FUNCTIONS = frozenset(
    {
        "_pg_expandarray",
        "array_length",
        "array_lower",
        "array_upper",
        "col_description",
        "current_database",
        "current_schema",
        "current_schemas",
        "current_setting",
        "format_type",
        "has_any_column_privilege",
        "has_column_privilege",
        "has_database_privilege",
        "has_function_privilege",
        "has_schema_privilege",
        "has_sequence_privilege",
        "has_table_privilege",
        "obj_description",
        "oidvectortypes",
        "pg_backend_pid",
        "pg_encoding_to_char",
        "pg_function_is_visible",
        "pg_get_constraintdef",
        "pg_get_expr",
        "pg_get_function_arguments",
        "pg_get_function_identity_arguments",
        "pg_get_function_result",
        "pg_get_indexdef",
        "pg_get_partkeydef",
        "pg_get_ruledef",
        "pg_get_serial_sequence",
        "pg_get_statisticsobjdef_columns",
        "pg_get_triggerdef",
        "pg_get_userbyid",
        "pg_get_viewdef",
        "pg_has_role",
        "pg_indexes_size",
        "pg_is_other_temp_schema",
        "pg_my_temp_schema",
        "pg_postmaster_start_time",
        "pg_relation_is_publishable",
        "pg_relation_size",
        "pg_size_pretty",
        "pg_table_is_visible",
        "pg_table_size",
        "pg_total_relation_size",
        "pg_type_is_visible",
        "quote_ident",
        "set_config",
        "shobj_description",
        "to_regtype",
        "version",
    }
)
# sqlglot's own nodes for some of them.
_TYPED_FUNCTIONS: dict[type[exp.Expr], str] = {
    exp.CurrentSchema: "current_schema",
    exp.CurrentDatabase: "current_database",
    exp.CurrentVersion: "version",
    exp.CurrentSchemas: "current_schemas",
}
# regproc columns: PostgreSQL compares them with 0 (an oid); here they hold the name, '-' for none.
_REGPROC_COLUMNS = frozenset(
    {"typinput", "typoutput", "typreceive", "typsend", "typmodin", "typmodout", "typanalyze", "amhandler"}
)
_OPERATORS: dict[str, Callable[[exp.Expr, exp.Expr], exp.Expr]] = {
    "~": lambda a, b: exp.RegexpLike(this=a, expression=b),
    "!~": lambda a, b: exp.Not(this=exp.RegexpLike(this=a, expression=b)),
    "~*": lambda a, b: exp.RegexpILike(this=a, expression=b),
    "!~*": lambda a, b: exp.Not(this=exp.RegexpILike(this=a, expression=b)),
    "=": lambda a, b: exp.EQ(this=a, expression=b),
    "<>": lambda a, b: exp.NEQ(this=a, expression=b),
    "~~": lambda a, b: exp.Like(this=a, expression=b),
    "!~~": lambda a, b: exp.Not(this=exp.Like(this=a, expression=b)),
}
_TEXT_TYPES = frozenset(
    {"name", "char", '"char"', "regproc", "regprocedure", "regoper", "regnamespace", "pg_node_tree"}
)


@dataclass(frozen=True)
class Rewritten:
    sql: str  # DuckDB's dialect, over the emulating schemas
    param_count: int
    array_params: frozenset[int]  # $n that PostgreSQL would type as arrays: `= ANY($n)`


def parse(sql: str) -> exp.Expr | None:
    """One statement in PostgreSQL's dialect, or None if sqlglot cannot read it as one."""
    try:
        trees = [t for t in sqlglot.parse(sql, read="postgres") if t is not None]
    except SqlglotError:
        return None
    return trees[0] if len(trees) == 1 else None


def catalog_relations(tree: exp.Expr) -> list[tuple[str, str]]:
    """The (schema, relation) pairs of the system catalogs a query reads."""
    ctes = _ctes(tree)
    return [found for table in tree.find_all(exp.Table) if (found := catalog_relation(table, ctes))]


def _ctes(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def calls_catalog_functions(tree: exp.Expr) -> bool:
    return any(_emulated_name(node) is not None for node in tree.walk())


def rewrite(tree: exp.Expr, relations: Collection[tuple[str, str]]) -> Rewritten:
    """The query over the emulating schemas; SqlRefused names a relation the catalogs do not emulate."""
    tree = tree.copy()
    ctes = _ctes(tree)
    known = set(relations)
    for table in list(tree.find_all(exp.Table)):
        _relation(table, ctes, known)
    for unnest in tree.find_all(exp.Unnest):
        _name_the_value(unnest)
    tree = _bottom_up(tree)
    for select in tree.find_all(exp.Select):
        _name_columns(select)
    params = {int(p.name) for p in tree.find_all(exp.Parameter) if p.name.isdigit()}
    arrays = {
        int(inner.name)
        for any_ in tree.find_all(exp.Any)
        if isinstance(inner := any_.this.unnest(), exp.Parameter) and inner.name.isdigit()
    }
    return Rewritten(tree.sql("duckdb"), max(params, default=0), frozenset(arrays))


def _bottom_up(tree: exp.Expr) -> exp.Expr:
    """`_node` applied to every node, children first (sqlglot's transform does not visit the children
    of a node it replaced)."""
    for node in reversed(list(tree.dfs())):
        new = _node(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def _relation(table: exp.Table, ctes: set[str], known: set[tuple[str, str]]) -> None:
    if not isinstance(table.this, exp.Identifier):
        if table.db.lower() == "pg_catalog":
            table.set("db", None)  # pg_catalog.unnest(...): PostgreSQL's own table function
        _name_the_value(table)
        return
    found = catalog_relation(table, ctes)
    if found is None:
        return
    if found not in known:
        raise SqlRefused(f"relation {'.'.join(found)} is not available on the SQL port", "42P01")
    table.set("db", exp.to_identifier(SCHEMAS[found[0]]))
    table.set("catalog", None)


def _name_the_value(source: exp.Expr) -> None:
    """In PostgreSQL `FROM generate_series(...) s` or `JOIN unnest(a) AS k` makes the alias the value;
    in DuckDB, the row: the alias names the column too."""
    alias = source.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.name and not alias.columns:
        alias.set("columns", [exp.to_identifier(alias.name)])


def _emulated_name(node: exp.Expr) -> str | None:
    for kind, name in _TYPED_FUNCTIONS.items():
        if isinstance(node, kind):
            return name
    if isinstance(node, exp.Anonymous) and str(node.name).lower() in FUNCTIONS:
        return str(node.name).lower()
    return None


def _call(name: str, args: list[exp.Expr]) -> exp.Expr:
    return exp.Dot(this=exp.to_identifier(HELPERS), expression=exp.Anonymous(this=name, expressions=args))


def _node(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier) and node.this.name.lower() in SCHEMAS:
        inner: exp.Expr = node.expression  # pg_catalog.f(...): PostgreSQL's own f, already rewritten
        return inner
    if isinstance(node, exp.Column) and node.db.lower() in SCHEMAS:
        node.set("db", exp.to_identifier(SCHEMAS[node.db.lower()]))
        return node
    name = _emulated_name(node)
    if name is not None:
        args = [node.this] if node.this is not None and not isinstance(node, exp.Anonymous) else []
        return _call(name, [*args, *node.expressions])
    if isinstance(node, exp.Anonymous) and str(node.name).lower() == "json_build_object":
        return exp.Anonymous(this="json_object", expressions=node.expressions)
    if isinstance(node, exp.CurrentUser | exp.SessionUser):
        return exp.Literal.string("mesh")
    if isinstance(node, exp.Operator):
        symbol = str(node.args.get("operator", "")).rsplit(".", 1)[-1]
        make = _OPERATORS.get(symbol)
        if make is None:
            raise SqlRefused(f"operator {symbol} is not supported on the SQL port's catalogs", "42883")
        return make(node.this, node.expression)
    if isinstance(node, exp.Collate):
        collated: exp.Expr = node.this
        return collated
    if isinstance(node, exp.Cast):
        return _cast(node)
    if isinstance(node, exp.EQ | exp.NEQ):
        return _regproc_comparison(node)
    return node


def _type_name(to: exp.Expr) -> str:
    if isinstance(to, exp.ObjectIdentifier):
        return to.name.lower()
    if isinstance(to, exp.DataType):
        kind = to.args.get("kind")
        if isinstance(kind, exp.Dot):
            return str(kind.expression.name).lower()
        if to.this == exp.DType.USERDEFINED and kind is not None:
            return str(kind.name if isinstance(kind, exp.Expr) else kind).lower()
        return str(to.this.value).lower()
    return to.sql().lower()


def _cast(node: exp.Cast) -> exp.Expr:
    target = _type_name(node.to)
    value = node.this
    if target in ("regclass", "regtype"):
        by_name = isinstance(value, exp.Parameter | exp.Placeholder) or (
            isinstance(value, exp.Literal) and value.is_string
        )
        return _call(f"{target}_{'oid' if by_name else 'name'}", [value])
    if target == "oid":
        return exp.cast(value, exp.DType.BIGINT)
    if target in _TEXT_TYPES:
        return exp.cast(value, exp.DType.VARCHAR)
    return node


def _regproc_comparison(node: exp.Binary) -> exp.Expr:
    left, right = node.this, node.expression
    if isinstance(left, exp.Column) and left.name.lower() in _REGPROC_COLUMNS and _is_zero(right):
        node.set("expression", exp.Literal.string("-"))
    return node


def _is_zero(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and node.name == "0"


def _name_columns(select: exp.Select) -> None:
    """Unnamed expressions named as PostgreSQL names them: a function by its name, a cast by what it
    casts, anything else ?column? (DuckDB would name them by their text)."""
    named = []
    for projection in select.expressions:
        if isinstance(projection, exp.Alias | exp.Column | exp.Star) or projection.output_name != "":
            named.append(projection)
            continue
        named.append(exp.alias_(projection, _pg_name(projection), quoted=True))
    select.set("expressions", named)


def _pg_name(node: exp.Expr) -> str:
    while isinstance(node, exp.Cast | exp.Paren):
        node = node.this
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
        node = node.expression
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return "?column?"
