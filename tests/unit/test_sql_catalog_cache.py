"""The emulated catalogs are kept across refreshes of the views that leave the tables as they were."""

from __future__ import annotations

import duckdb
import pytest

from mesh_sql.pgcatalog import CatalogCache, ColumnDoc, TableDoc

EVENTS = TableDoc("playback", "events_v1", (ColumnDoc("event_id", "BIGINT"),), ("event_id",))
WIDER = TableDoc("playback", "events_v1", (ColumnDoc("event_id", "BIGINT"), ColumnDoc("title_id", "VARCHAR")))


def test_the_same_tables_reuse_the_catalogs_other_tables_or_databases_build_new_ones() -> None:
    cache = CatalogCache("PostgreSQL 16.0", {})
    try:
        first = cache.get([EVENTS], "playback")
        assert cache.get((EVENTS,), "playback") is first
        wider = cache.get([WIDER], "playback")
        assert wider is not first
        assert wider.conn.execute("select count(*) from mesh_pg_catalog.pg_attribute").fetchone() == (2,)
        assert cache.get([EVENTS], "mesh") is not first
    finally:
        cache.close()


def test_the_least_recently_used_beyond_the_capacity_is_closed() -> None:
    cache = CatalogCache("PostgreSQL 16.0", {}, capacity=2)
    try:
        kept = cache.get([EVENTS], "a")
        evicted = cache.get([EVENTS], "b")
        cache.get([EVENTS], "a")  # used again: "b" is now the least recent
        cache.get([EVENTS], "c")
        with pytest.raises(duckdb.ConnectionException):
            evicted.conn.execute("select 1")
        assert cache.get([EVENTS], "a") is kept
        assert kept.conn.execute("select 1").fetchone() == (1,)
    finally:
        cache.close()
    with pytest.raises(duckdb.ConnectionException):
        kept.conn.execute("select 1")
