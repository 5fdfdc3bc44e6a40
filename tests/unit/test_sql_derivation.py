"""A derived product written in SQL alone: the folder's queries are checked against its output ports
when it loads, and each refresh replaces each port's rows with its query's result; a table the SQL
names instead of an input port is read by name and handed to whoever reports undeclared reads."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from mesh_sdk.spec.errors import SpecError
from mesh_sdk.spec.logic import Context, Inputs
from mesh_sdk.spec.product import load_product

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "labs" / "12-derived-product"  # its starter folder, completed with its solution's query


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    copy = tmp_path / "content-insights.genres"
    shutil.copytree(LAB / "starter", copy)
    shutil.copy(LAB / "solution" / "genres.sql", copy / "derivation" / "genres.sql")
    return copy


def test_a_folder_with_queries_and_no_product_py_loads_as_a_sql_derivation(folder: Path) -> None:
    product = load_product(folder)
    assert product.derived and product.derivation is not None
    titles = pa.table(
        {
            "title_id": [1, 2, 3],
            "primary_genre": ["drama", "drama", "comedy"],
            "kind": ["movie", "series", "movie"],
            "duration_s": [6000, 3000, 5400],
            "release_year": [2001, 2010, 2020],
        }
    )
    inputs = Inputs({"titles": 7}, frozenset({"titles"}), datetime.now(UTC), _read=lambda _port, _where: titles)
    updates = product.derivation(Context(product.id, None)).refresh(inputs)  # type: ignore[arg-type]
    genres = updates["genres"]
    assert genres.replace_all
    assert isinstance(genres.rows, pa.Table)
    rows = {r["genre"]: r for r in genres.rows.to_pylist()}
    assert rows["drama"]["titles"] == 2 and rows["comedy"]["titles"] == 1


def test_the_starter_of_lab_12_is_refused_until_its_query_is_written(tmp_path: Path) -> None:
    shutil.copytree(LAB / "starter", tmp_path / "content-insights.genres")
    with pytest.raises(SpecError, match=r"genres\.sql holds no query"):
        load_product(tmp_path / "content-insights.genres")


def test_a_missing_or_stray_query_is_named_when_the_folder_loads(folder: Path) -> None:
    (folder / "derivation" / "genres.sql").rename(folder / "derivation" / "genre.sql")
    with pytest.raises(SpecError) as refused:
        load_product(folder)
    text = str(refused.value)
    assert "output port 'genres' has no query" in text and "genre.sql names no Iceberg output port" in text


def test_a_table_named_in_the_sql_is_read_by_name_and_reported() -> None:
    read: list[str] = []

    def shared(name: str) -> pa.Table:
        read.append(name)
        return pa.table({"event_id": ["a", "b", "c"]})

    inputs = Inputs({}, frozenset(), datetime.now(UTC), _shared=shared)
    result = inputs.sql("SELECT count(*) AS n FROM playback.events_history_v1")
    assert result.to_pylist() == [{"n": 3}] and read == ["playback.events_history_v1"]
    with pytest.raises(KeyError, match="cannot read the lakehouse by name"):
        Inputs({}, frozenset(), datetime.now(UTC)).sql("SELECT * FROM playback.events_history_v1")
