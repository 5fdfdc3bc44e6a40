"""PostgreSQL's catalog functions as DuckDB macros over the emulated catalogs (in `rewrite.HELPERS`):
what psql, SQLAlchemy, pgJDBC and ADBC call while they discover a database."""

from __future__ import annotations

from collections.abc import Sequence

from mesh_sql.pgcatalog.rewrite import HELPERS
from mesh_sql.pgcatalog.types import TYPES, format_type
from mesh_sql.quoting import quote_literal
from mesh_sql.system_catalogs import SCHEMAS

PG = SCHEMAS["pg_catalog"]


def macros(database: str, search_path: Sequence[str], version: str) -> list[str]:
    """The statements that create every macro `rewrite.FUNCTIONS` names."""
    schemas = ", ".join(quote_literal(s) for s in search_path) or "NULL"
    first = quote_literal(search_path[0]) if search_path else "NULL"
    names = ", ".join(f"({oid}, {quote_literal(format_type(oid, None) or '')})" for oid in TYPES)
    nulls = {
        "pg_get_expr": ["e, r", "e, r, p"],
        "pg_get_viewdef": ["v", "v, p"],
        "pg_get_triggerdef": ["t", "t, p"],
        "pg_get_ruledef": ["r", "r, p"],
        "pg_get_partkeydef": ["r"],
        "pg_get_function_result": ["f"],
        "pg_get_function_arguments": ["f"],
        "pg_get_function_identity_arguments": ["f"],
        "pg_get_statisticsobjdef_columns": ["s"],
        "pg_get_serial_sequence": ["t, c"],
        "shobj_description": ["o, c"],
        "pg_relation_is_publishable": ["r"],
    }
    trues = {
        "has_table_privilege": ["t, p", "u, t, p"],
        "has_schema_privilege": ["s, p", "u, s, p"],
        "has_database_privilege": ["d, p", "u, d, p"],
        "has_function_privilege": ["f, p", "u, f, p"],
        "has_sequence_privilege": ["s, p", "u, s, p"],
        "has_column_privilege": ["t, c, p", "u, t, c, p"],
        "has_any_column_privilege": ["t, p", "u, t, p"],
        "pg_has_role": ["r, p", "u, r, p"],
        "pg_type_is_visible": ["t"],
        "pg_function_is_visible": ["f"],
    }
    zeros = {"pg_relation_size": ["r", "r, f"], "pg_table_size": ["r"], "pg_total_relation_size": ["r"]}
    zeros |= {"pg_indexes_size": ["r"], "pg_my_temp_schema": [""], "pg_backend_pid": [""]}
    statements = [
        f"CREATE TABLE {HELPERS}.type_names(oid BIGINT, name VARCHAR)",
        f"INSERT INTO {HELPERS}.type_names VALUES {names}",
        *_constant(nulls, "NULL"),
        *_constant(trues, "true"),
        *_constant(zeros, "0"),
        f"CREATE MACRO {HELPERS}.version() AS {quote_literal(version)}",
        f"CREATE MACRO {HELPERS}.current_database() AS {quote_literal(database)}",
        f"CREATE MACRO {HELPERS}.current_schema() AS {first}",
        f"CREATE MACRO {HELPERS}.current_schemas(implicit) AS "
        f"CASE WHEN implicit THEN ['pg_catalog', {schemas}] ELSE [{schemas}] END",
        f"CREATE MACRO {HELPERS}.pg_encoding_to_char(e) AS CASE WHEN e = 6 THEN 'UTF8' ELSE '' END",
        f"CREATE MACRO {HELPERS}.pg_is_other_temp_schema(n) AS false",
        f"CREATE MACRO {HELPERS}.pg_postmaster_start_time() AS TIMESTAMPTZ '2000-01-01 00:00:00+00'",
        f"CREATE MACRO {HELPERS}.pg_get_userbyid(r) AS (SELECT first(rolname) FROM {PG}.pg_roles WHERE oid = r)",
        f"CREATE MACRO {HELPERS}.pg_table_is_visible(r) AS (SELECT count(*) > 0 FROM {PG}.pg_class c "
        f"JOIN {PG}.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = r AND n.nspname IN ({schemas}))",
        f"CREATE MACRO {HELPERS}.format_type(t, m) AS CASE WHEN t IS NULL THEN NULL "
        "WHEN t = 1700 AND m >= 4 THEN 'numeric(' || ((m - 4) >> 16) || ',' || ((m - 4) & 65535) || ')' "
        f"ELSE coalesce((SELECT first(name) FROM {HELPERS}.type_names WHERE oid = t), '???') END",
        f"CREATE MACRO {HELPERS}.pg_get_constraintdef(c) AS "
        f"(SELECT first(definition) FROM {HELPERS}.definitions WHERE oid = c), "
        f"(c, p) AS (SELECT first(definition) FROM {HELPERS}.definitions WHERE oid = c)",
        f"CREATE MACRO {HELPERS}.pg_get_indexdef(i) AS "
        f"(SELECT first(definition) FROM {HELPERS}.definitions WHERE oid = i), "
        f"(i, k, p) AS CASE WHEN k = 0 THEN (SELECT first(definition) FROM {HELPERS}.definitions WHERE oid = i) "
        f"ELSE (SELECT first(attname) FROM {PG}.pg_attribute WHERE attrelid = i AND attnum = k) END",
        f"CREATE MACRO {HELPERS}.obj_description(o) AS "
        f"(SELECT first(description) FROM {PG}.pg_description WHERE objoid = o AND objsubid = 0), "
        f"(o, c) AS (SELECT first(description) FROM {PG}.pg_description WHERE objoid = o AND objsubid = 0)",
        f"CREATE MACRO {HELPERS}.col_description(o, n) AS "
        f"(SELECT first(description) FROM {PG}.pg_description WHERE objoid = o AND objsubid = n)",
        f"CREATE MACRO {HELPERS}.regclass_name(r) AS coalesce("
        f"(SELECT first(relname) FROM {PG}.pg_class WHERE oid = r), CAST(r AS VARCHAR))",
        f"CREATE MACRO {HELPERS}.regclass_of(wanted) AS CASE "
        "WHEN regexp_full_match(CAST(wanted AS VARCHAR), '[0-9]+') THEN CAST(wanted AS BIGINT) "
        f"ELSE coalesce((SELECT first(s.oid) FROM {HELPERS}.system_relations s WHERE s.name = lower(wanted)), "
        f"(SELECT first(c.oid) FROM {PG}.pg_class c JOIN {PG}.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = wanted OR n.nspname || '.' || c.relname = wanted)) END",
        f"CREATE MACRO {HELPERS}.regclass_oid(quoted) AS "
        f"{HELPERS}.regclass_of(replace(CAST(quoted AS VARCHAR), '\"', ''))",
        f"CREATE MACRO {HELPERS}.regtype_name(t) AS {HELPERS}.format_type(t, NULL)",
        f"CREATE MACRO {HELPERS}.regtype_oid(wanted) AS (SELECT first(t.oid) FROM {PG}.pg_type t "
        "WHERE t.typname = lower(wanted) OR 'pg_catalog.' || t.typname = lower(wanted))",
        f"CREATE MACRO {HELPERS}.to_regtype(wanted) AS {HELPERS}.regtype_oid(wanted)",
        f"CREATE MACRO {HELPERS}.current_setting(n) AS "
        f"(SELECT first(setting) FROM {PG}.pg_settings WHERE lower(name) = lower(n)), "
        f"(n, missing_ok) AS (SELECT first(setting) FROM {PG}.pg_settings WHERE lower(name) = lower(n))",
        # Settings are fixed on the read-only port: set_config answers as if applied, and changes nothing.
        f"CREATE MACRO {HELPERS}.set_config(n, v, is_local) AS v",
        f"CREATE MACRO {HELPERS}.array_length(a, d) AS CASE WHEN d = 1 THEN len(a) END",
        f"CREATE MACRO {HELPERS}.array_upper(a, d) AS CASE WHEN d = 1 AND len(a) > 0 THEN len(a) END",
        f"CREATE MACRO {HELPERS}.array_lower(a, d) AS CASE WHEN d = 1 AND len(a) > 0 THEN 1 END",
        f"CREATE MACRO {HELPERS}.oidvectortypes(v) AS ''",
        # information_schema's set-returning helper pgJDBC calls: one (x, n) row per element.
        f"CREATE MACRO {HELPERS}._pg_expandarray(a) AS "
        "unnest(list_transform(range(1, len(a) + 1), i -> {'x': a[i], 'n': i}))",
        f"CREATE MACRO {HELPERS}.pg_size_pretty(b) AS b || ' bytes'",
        f"CREATE MACRO {HELPERS}.quote_ident(s) AS CASE WHEN regexp_full_match(s, '[a-z_][a-z0-9_$]*') THEN s "
        "ELSE '\"' || replace(s, '\"', '\"\"') || '\"' END",
    ]
    return statements


def _constant(overloads: dict[str, list[str]], value: str) -> list[str]:
    return [
        f"CREATE MACRO {HELPERS}.{name}" + ", ".join(f"({params}) AS {value}" for params in signatures)
        for name, signatures in overloads.items()
    ]
