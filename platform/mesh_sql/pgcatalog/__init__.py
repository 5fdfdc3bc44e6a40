"""PostgreSQL's system catalogs (pg_catalog, information_schema) emulated for the SQL port's clients."""

from mesh_sql.pgcatalog.catalog import CatalogCache, SystemCatalog, claim
from mesh_sql.pgcatalog.contents import ColumnDoc, TableDoc, TableNotes

__all__ = ["CatalogCache", "ColumnDoc", "SystemCatalog", "TableDoc", "TableNotes", "claim"]
