"""The lakehouse: Iceberg tables in an SQL catalog on PostgreSQL, data on S3, read by DuckDB."""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

from mesh_config import MeshSettings

# DuckDB extensions come from PyPI wheels pinned to DuckDB's version; nothing is downloaded at run time.
_EXTENSIONS = ("httpfs", "avro", "iceberg")


def iceberg_catalog(settings: MeshSettings) -> SqlCatalog:
    """The catalog. Its tables are those of Iceberg's Java JdbcCatalog, so Spark or Trino can share it."""
    return SqlCatalog(
        settings.catalog_name,
        uri=settings.iceberg_catalog_uri,
        warehouse=settings.warehouse,
        **{
            "s3.endpoint": settings.s3_url,
            "s3.access-key-id": settings.s3_access_key,
            "s3.secret-access-key": settings.s3_secret_key,
            "s3.region": settings.s3_region,
            "s3.force-virtual-addressing": "false",
        },
    )


def _extension_file(name: str) -> Path:
    package = importlib.import_module(f"duckdb_extension_{name}")
    base = Path(next(iter(package.__path__)))
    found = sorted(base.glob(f"extensions/v{duckdb.__version__}/{name}.duckdb_extension"))
    if not found:
        raise RuntimeError(
            f"the DuckDB {name} extension for DuckDB {duckdb.__version__} is not installed: "
            f"`pip install duckdb-extension-{name}=={duckdb.__version__}`"
        )
    return found[0]


def duckdb_connection(settings: MeshSettings, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that can read the lakehouse's Iceberg tables over S3, fully offline."""
    conn = duckdb.connect(
        database,
        config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"},
    )
    for name in _EXTENSIONS:
        conn.execute(f"LOAD '{_extension_file(name)}'")
    endpoint = settings.s3_url.split("://", 1)[-1]
    conn.execute(
        "CREATE OR REPLACE SECRET mesh_s3 (TYPE S3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, "
        "URL_STYLE 'path', USE_SSL ?)",
        [
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_region,
            endpoint,
            settings.s3_url.startswith("https://"),
        ],
    )
    return conn


def scan_sql(table: Table) -> str:
    """SQL naming a table as of its current snapshot for DuckDB: its Parquet files as pyiceberg plans
    them (mesh_adapters.snapshot_scan says why not DuckDB's own iceberg_scan)."""
    from mesh_adapters.snapshot_scan import current_relation

    return current_relation(table)
