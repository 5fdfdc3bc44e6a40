"""The masked twin of a product's table: appends follow incrementally, any other change rewrites it, and
each twin snapshot names the table snapshot it reflects. On a local Iceberg catalog (SQLite, files)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import IntegerType, LongType, NestedField, StringType

from mesh_sdk.serve.masked_table import MaskedTable, mask_rows

SCHEMA = Schema(
    NestedField(1, "customer_id", LongType(), required=True),
    NestedField(2, "email", StringType(), required=True),
    NestedField(3, "birth_year", IntegerType(), required=False),
    NestedField(4, "country", StringType(), required=False),
)
PII = {"email", "birth_year"}


def _rows(*ids: int) -> pa.Table:
    return pa.Table.from_pylist(
        [{"customer_id": i, "email": f"c{i}@example.com", "birth_year": 1990 + i, "country": "NL"} for i in ids],
        schema=SCHEMA.as_arrow(),
    )


@pytest.fixture
def catalog(tmp_path: Path) -> SqlCatalog:
    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")
    catalog.create_namespace("subs")
    catalog.create_table("subs.customers_changes_v1", schema=SCHEMA)
    return catalog


def _twin_rows(twin: MaskedTable) -> list[dict[str, object]]:
    return sorted(twin.twin.refresh().scan().to_arrow().to_pylist(), key=lambda r: int(r["customer_id"]))


def test_pii_is_masked_as_the_other_ports_mask_it() -> None:
    masked = mask_rows(_rows(1), PII).to_pylist()
    assert masked == [{"customer_id": 1, "email": "***", "birth_year": None, "country": "NL"}]


def test_appends_follow_once_and_other_changes_rewrite_the_twin(catalog: SqlCatalog) -> None:
    table = catalog.load_table("subs.customers_changes_v1")
    twin = MaskedTable(catalog, "subs.customers_changes_v1", "subs.customers_changes_masked_v1", PII, "changes")
    assert twin.step() == 0, "nothing to follow before the first snapshot"
    table.append(_rows(1, 2))
    table.append(_rows(3))
    assert twin.step() == 3
    assert twin.step() == 0, "a snapshot already reflected is not written again"
    table.append(_rows(4))
    assert twin.step() == 1, "the rows appended since, only"
    assert [r["customer_id"] for r in _twin_rows(twin)] == [1, 2, 3, 4]
    assert all(r["email"] == "***" and r["birth_year"] is None and r["country"] == "NL" for r in _twin_rows(twin))

    table.refresh().delete("customer_id = 2")  # not an append: the twin is rewritten from the table
    assert twin.step() == 3
    assert [r["customer_id"] for r in _twin_rows(twin)] == [1, 3, 4]
    newest = table.refresh().current_snapshot()
    assert newest is not None and twin.reflected() == newest.snapshot_id


def test_a_twin_made_again_carries_on_from_what_it_reflects(catalog: SqlCatalog) -> None:
    table = catalog.load_table("subs.customers_changes_v1")
    table.append(_rows(1))
    MaskedTable(catalog, "subs.customers_changes_v1", "subs.customers_changes_masked_v1", PII, "x").step()
    table.append(_rows(2))
    again = MaskedTable(catalog, "subs.customers_changes_v1", "subs.customers_changes_masked_v1", PII, "x")
    assert again.step() == 1  # a restart: no row twice
    assert [r["customer_id"] for r in _twin_rows(again)] == [1, 2]
