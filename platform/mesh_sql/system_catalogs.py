"""Which table references name PostgreSQL's system catalogs: the allowlist refuses them beside the
product's tables (`guard`), and the emulated catalogs rewrite them (`pgcatalog.rewrite`)."""

from __future__ import annotations

from collections.abc import Collection

from sqlglot import exp

# Each system schema, and the schema of the SQL port's engine that emulates it.
SCHEMAS = {"pg_catalog": "mesh_pg_catalog", "information_schema": "mesh_information_schema"}


def catalog_relation(table: exp.Table, ctes: Collection[str]) -> tuple[str, str] | None:
    """The (schema, relation) of the system catalogs a table reference names, or None."""
    if not isinstance(table.this, exp.Identifier):
        return None
    schema, name = table.db.lower(), table.name.lower()
    if schema in SCHEMAS:
        return schema, name
    if not schema and name.startswith("pg_") and name not in ctes:
        return "pg_catalog", name  # pg_catalog is always first on the search path
    return None
