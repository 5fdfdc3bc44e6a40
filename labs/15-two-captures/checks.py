"""Lab 15's checks: the prediction, the Connect worker's log and the product's dead letters since the
lab started (table-level capture meeting the monolith's rename), and the content team's database and
content.titles (the outbox carrying on). The reset undoes both renames and lets capture resume."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
CUSTOMER, TITLE = 7, 7
SUBJECT = "cdc.legacy.public.customers-value"
CONNECTOR = "cdc-legacy"
CUSTOMERS_DLQ = "subscriptions.customers.dlq.v1"
HERE = Path(__file__).resolve().parent


def _columns(mesh: LabMesh, database: str, table: str) -> set[str]:
    rows = mesh.sql_in(database, "SELECT column_name FROM information_schema.columns WHERE table_name = %s", table)
    return {r[0] for r in rows}


def _customer_name(mesh: LabMesh) -> str:
    column = "full_name" if "full_name" in _columns(mesh, mesh.settings.legacy_db, "customers") else "name"
    rows = mesh.sql_in(mesh.settings.legacy_db, f"SELECT {column} FROM customers WHERE customer_id = %s", CUSTOMER)
    return str(rows[0][0])


def _title_name(mesh: LabMesh) -> str:
    column = "name" if "name" in _columns(mesh, mesh.settings.content_db, "titles") else "title"
    rows = mesh.sql_in(mesh.settings.content_db, f"SELECT {column} FROM titles WHERE title_id = %s", TITLE)
    return str(rows[0][0])


def _served_title(mesh: LabMesh) -> str | None:
    rows = [r for r in mesh.iceberg_rows("content.titles_titles_v1") if r["title_id"] == TITLE]
    return str(rows[0]["name"]) if rows else None


@lab.setup
def note_the_start(mesh: LabMesh) -> None:
    mesh.baseline.setdefault("customer", _customer_name(mesh))
    mesh.baseline.setdefault("title", _title_name(mesh))
    mesh.mark_process("connect")
    mesh.mark(CUSTOMERS_DLQ)


@lab.check("predict")
def predicted(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("predict").strip().lower()
    if answer in ("content.titles", "urn:mesh:content:titles:v1"):
        return passed("content.titles: now see whether the mesh agrees, and why")
    return failed(f"{answer!r}: keep that prediction in mind, and think again about what each product captures")


@lab.solve("predict")
def predict(mesh: LabMesh) -> None:
    mesh.give_answer("predict", "content.titles")


def _capture_broke(mesh: LabMesh) -> str | None:
    refused = f"Incompatible artifact: {SUBJECT}" in mesh.since_mark("connect").log
    if refused:
        return "the registry refused the new shape of the customers' change events; the connector's task failed"
    dead = [dict((k, v.decode()) for k, v in (m.headers() or [])) for m in mesh.since(CUSTOMERS_DLQ)]
    if any(d.get("mesh.dlq.defect") == "contract" for d in dead):
        return "subscriptions.customers dead-lettered the renamed customers' changes: its contract needs full_name"
    return None


@lab.check("legacy-rename")
def legacy_renamed(mesh: LabMesh) -> Outcome:
    if "name" not in _columns(mesh, mesh.settings.legacy_db, "customers"):
        return failed("customers.full_name is not renamed in the monolith")
    broke = _capture_broke(mesh)
    if broke is None:
        return failed("renamed; now change a customer with the new column, and watch the capture")
    return passed(broke)


@lab.solve("legacy-rename")
def rename_in_the_monolith(mesh: LabMesh) -> None:
    legacy = mesh.settings.legacy_db
    mesh.sql_in(legacy, "ALTER TABLE customers RENAME COLUMN full_name TO name")
    mesh.sql_in(legacy, "UPDATE customers SET name = 'Ada Lovelace-Byron', updated_at = now() WHERE customer_id = 7")
    mesh.wait_for(lambda: _capture_broke(mesh), "the capture meeting the rename", 90)


@lab.check("content-rename")
def content_renamed(mesh: LabMesh) -> Outcome:
    if "title" not in _columns(mesh, mesh.settings.content_db, "titles"):
        return failed("titles.name is not renamed in the content team's database")
    now, served = _title_name(mesh), _served_title(mesh)
    if now == mesh.baseline["title"]:
        return failed("renamed, but title 7 did not change: the release changes it, with its outbox event")
    if served != now:
        return failed(f"content.titles serves {served!r} for title 7, the content team has {now!r}: wait")
    return passed(f"content.titles carries on: title 7 is {now!r} there too")


@lab.solve("content-rename")
def ship_the_release(mesh: LabMesh) -> None:
    mesh.sql_in(mesh.settings.content_db, (HERE / "content-release.sql").read_text())
    mesh.wait_for(lambda: content_renamed(mesh).passed, "content.titles showing the change", 120)


@lab.reset
def undo_both_renames(mesh: LabMesh) -> None:
    _undo_content(mesh)
    _undo_legacy(mesh)


def _undo_content(mesh: LabMesh) -> None:
    import psycopg

    original = mesh.baseline.get("title")
    renamed = "title" in _columns(mesh, mesh.settings.content_db, "titles")
    if not renamed and (original is None or _title_name(mesh) == original):
        return
    with psycopg.connect(mesh.settings.postgres_dsn(mesh.settings.content_db)) as conn:  # one transaction
        if renamed:
            conn.execute("ALTER TABLE titles RENAME COLUMN title TO name")
        conn.execute(
            "WITH changed AS (UPDATE titles SET name = %s, updated_at = now() WHERE title_id = %s RETURNING *) "
            "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) "
            "SELECT gen_random_uuid(), 'title', title_id::text, 'TitleUpdated', json_build_object("
            "'title_id', title_id, 'name', name, 'kind', kind, 'genres', genres, 'release_year', release_year, "
            "'duration_s', duration_s, 'maturity', maturity, 'available', available, 'updated_at', "
            "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00')::text FROM changed",
            (original, TITLE),
        )


def _registry(mesh: LabMesh, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{mesh.settings.schema_registry_url}{path}", timeout=30, **kwargs)


def _undo_legacy(mesh: LabMesh) -> None:
    """The monolith's column named back; the change events of the renamed column let through (the
    product dead-letters them) and their schema removed again, so the next round meets the rename anew."""
    from mesh_adapters.connect import ConnectClient

    legacy, original = mesh.settings.legacy_db, mesh.baseline.get("customer")
    renamed = "name" in _columns(mesh, legacy, "customers")
    with ConnectClient(mesh.settings.kafka_connect_url) as connect:
        stuck = "FAILED" in connect.status(CONNECTOR).tasks
        if not renamed and not stuck:
            return
        _registry(mesh, "PUT", f"/config/{SUBJECT}", json={"compatibility": "NONE"})
        if renamed:
            mesh.sql_in(legacy, "ALTER TABLE customers RENAME COLUMN name TO full_name")
        if original is not None:
            mesh.sql_in(
                legacy, "UPDATE customers SET full_name = %s, updated_at = now() WHERE customer_id = %s", original, 7
            )
        if stuck:
            connect.restart(CONNECTOR)
        mesh.wait_for(lambda: connect.status(CONNECTOR).running, "the legacy capture running again", 60)
    time.sleep(5)  # the stuck events, then the renamed-back one, reach the topic
    for version in _registry(mesh, "GET", f"/subjects/{SUBJECT}/versions").json():
        schema = _registry(mesh, "GET", f"/subjects/{SUBJECT}/versions/{version}").json()["schema"]
        if "full_name" not in json.dumps(json.loads(schema)):
            _registry(mesh, "DELETE", f"/subjects/{SUBJECT}/versions/{version}")
            _registry(mesh, "DELETE", f"/subjects/{SUBJECT}/versions/{version}", params={"permanent": "true"})
    _registry(mesh, "PUT", f"/config/{SUBJECT}", json={"compatibility": "BACKWARD"})
