"""PostgreSQL with logical decoding: what CDC will stand on."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from mesh_config import MeshSettings

pytestmark = pytest.mark.integration


def test_databases_exist(mesh_services: MeshSettings) -> None:
    with psycopg.connect(mesh_services.postgres_dsn("postgres")) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert {mesh_services.legacy_db, mesh_services.content_db, mesh_services.catalog_db} <= names


def test_a_logical_replication_slot_sees_an_insert(mesh_services: MeshSettings) -> None:
    slot = f"test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(mesh_services.postgres_dsn(mesh_services.legacy_db), autocommit=True) as conn:
        assert conn.execute("SHOW wal_level").fetchone() == ("logical",)
        conn.execute("CREATE TABLE IF NOT EXISTS slot_probe (id serial PRIMARY KEY, email text NOT NULL)")
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", [slot])
        try:
            conn.execute("INSERT INTO slot_probe (email) VALUES (%s)", ["ada@example.com"])
            changes = [
                row[0] for row in conn.execute("SELECT data FROM pg_logical_slot_get_changes(%s, NULL, NULL)", [slot])
            ]
        finally:
            # An idle slot holds WAL forever: always drop it.
            conn.execute("SELECT pg_drop_replication_slot(%s)", [slot])

    inserts = [c for c in changes if c.startswith("table public.slot_probe: INSERT")]
    assert len(inserts) == 1
    assert "email[text]:'ada@example.com'" in inserts[0]
