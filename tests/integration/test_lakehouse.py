"""Iceberg tables in the SQL catalog on S3, evolved and time-travelled, read back by DuckDB offline."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from mesh_adapters.lakehouse import duckdb_connection, iceberg_catalog, scan_sql
from mesh_adapters.snapshot_scan import SnapshotRelations, iceberg_scan_sql
from mesh_config import MeshSettings

pytestmark = pytest.mark.integration


def test_iceberg_append_time_travel_evolve_and_read_with_duckdb(mesh_services: MeshSettings) -> None:
    catalog = iceberg_catalog(mesh_services)
    name = f"playback.test_events_{uuid.uuid4().hex[:8]}_v1"
    schema = Schema(
        NestedField(1, "event_id", StringType(), required=True),
        NestedField(2, "customer_id", LongType(), required=True),
    )
    table = catalog.create_table(name, schema=schema)
    arrow_schema = schema.as_arrow()
    table.append(pa.Table.from_pylist([{"event_id": "a", "customer_id": 1}], schema=arrow_schema))
    first_snapshot = table.current_snapshot()
    assert first_snapshot is not None
    table.append(pa.Table.from_pylist([{"event_id": "b", "customer_id": 2}], schema=arrow_schema))

    with table.update_schema() as update:
        update.add_column("device", StringType(), doc="the app's device class")
    table = catalog.load_table(name)
    table.append(
        pa.Table.from_pylist([{"event_id": "c", "customer_id": 3, "device": "tv"}], schema=table.schema().as_arrow())
    )

    as_of_first = table.scan(snapshot_id=first_snapshot.snapshot_id).to_arrow()
    assert as_of_first.column("event_id").to_pylist() == ["a"]
    assert table.scan().to_arrow().num_rows == 3

    duck = duckdb_connection(mesh_services)
    rows = duck.execute(f"SELECT event_id, customer_id, device FROM {scan_sql(table)} ORDER BY event_id").fetchall()
    assert rows == [("a", 1, None), ("b", 2, None), ("c", 3, "tv")]
    assert name.split(".")[0] in {ns[0] for ns in catalog.list_namespaces()}
    catalog.drop_table(name)


def test_duckdb_loads_extensions_without_network(mesh_services: MeshSettings) -> None:
    duck = duckdb_connection(mesh_services)
    loaded = {row[0] for row in duck.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
    assert {"iceberg", "httpfs", "avro"} <= loaded
    assert duck.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone() == (False,)


def test_every_snapshot_reads_the_same_through_planned_parquet_files_as_through_iceberg_scan(
    mesh_services: MeshSettings,
) -> None:
    """The ports read snapshots as Parquet files pyiceberg planned (DuckDB's iceberg_scan can abort the
    process when S3 refuses it mid-scan): the rows must be those iceberg_scan reads, snapshot by
    snapshot, with a column added on the way (NULL in the files written before it)."""
    catalog = iceberg_catalog(mesh_services)
    name = f"playback.test_planned_{uuid.uuid4().hex[:8]}_v1"
    schema = Schema(NestedField(1, "event_id", StringType(), required=True), NestedField(2, "n", LongType()))
    table = catalog.create_table(name, schema=schema)
    relations = SnapshotRelations()
    duck = duckdb_connection(mesh_services)
    try:
        assert scan_sql(table).startswith("(SELECT")  # no snapshot yet: an empty relation, typed
        assert duck.execute(f"SELECT count(*) FROM {scan_sql(table)}").fetchone() == (0,)
        for batch in range(3):
            rows = [{"event_id": f"{batch}-{i}", "n": i} for i in range(5)]
            table.append(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()))
        with table.update_schema() as update:
            update.add_column("device", StringType())
        table = catalog.load_table(name)
        table.append(
            pa.Table.from_pylist([{"event_id": "x", "n": 9, "device": "tv"}], schema=table.schema().as_arrow())
        )
        table.delete("n = 0")  # copy-on-write: the files that held those rows are rewritten
        table = catalog.load_table(name)

        seen = []
        for snapshot in table.snapshots():
            planned = relations.relation(table, snapshot.snapshot_id)
            assert "iceberg_scan" not in planned and planned.startswith("read_parquet(")
            assert relations.relation(table, snapshot.snapshot_id) is planned  # planned once
            query = "SELECT * FROM {} ORDER BY event_id"
            ours = duck.execute(query.format(planned)).fetchall()
            theirs = duck.execute(query.format(iceberg_scan_sql(table, snapshot.snapshot_id))).fetchall()
            assert ours == theirs
            seen.append(len(ours))
        assert seen == [5, 10, 15, 16, 13]
        assert ("x", 9, "tv") in duck.execute(f"SELECT * FROM {scan_sql(table)}").fetchall()
    finally:
        catalog.drop_table(name)
