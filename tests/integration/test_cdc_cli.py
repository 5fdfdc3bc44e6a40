"""`mesh cdc` against the running capture: status, an idempotent start, a restart without loss."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from mesh_adapters.connect import ConnectClient
from mesh_cli.cdc import cdc_app
from mesh_config import MeshSettings
from mesh_sources.capture import CONTENT, LEGACY

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(legacy_capture: MeshSettings, content_capture: MeshSettings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name, value in legacy_capture.environment().items():
        if name.startswith("MESH_"):
            monkeypatch.setenv(name, value)
    return CliRunner()


def _customers(settings: MeshSettings) -> int:
    with psycopg.connect(settings.postgres_dsn(settings.legacy_db)) as conn:
        row = conn.execute("SELECT count(*) FROM customers").fetchone()
    assert row is not None
    return int(row[0])


def test_status_shows_each_connector_its_tasks_and_its_slot(cli: CliRunner) -> None:
    result = cli.invoke(cdc_app, ["status"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for source in (LEGACY, CONTENT):
        line = next(line for line in result.output.splitlines() if source.connector in line)
        assert "RUNNING" in line and "active" in line, line


def test_start_again_changes_nothing_and_restart_resumes(cli: CliRunner, legacy_capture: MeshSettings) -> None:
    before = _customers(legacy_capture)
    again = cli.invoke(cdc_app, ["start", "all"], terminal_width=200)
    assert again.exit_code == 0, again.output
    assert _customers(legacy_capture) == before, "a second start seeds nothing"

    restarted = cli.invoke(cdc_app, ["restart", "legacy"], terminal_width=200)
    assert restarted.exit_code == 0, restarted.output
    with ConnectClient(legacy_capture.kafka_connect_url) as connect:
        assert connect.wait_running(LEGACY.connector).running


def test_an_unknown_source_is_refused_with_the_choices(cli: CliRunner) -> None:
    result = cli.invoke(cdc_app, ["restart", "billing"])
    assert result.exit_code != 0
    said = " ".join(result.output.replace("│", " ").split())  # the words, whatever the error box wraps
    assert "legacy, content, crm, subscriptions or all" in said
