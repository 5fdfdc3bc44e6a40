"""kill -9 during ingest: after a restart, every event is in the history exactly once, and the output
stream holds each of them exactly once too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyiceberg.expressions import EqualTo

from mesh_adapters.lakehouse import iceberg_catalog
from mesh_config import MeshSettings
from mesh_stack import Stack
from mesh_testing.products import eventually, free_port

from .conftest import streamed_event_ids

pytestmark = pytest.mark.integration
FOLDER = Path(__file__).resolve().parents[1]
MESH = str(Path(sys.executable).parent / "mesh")
EVENTS = 4000
HISTORY = "playback.events_history_v1"


def _start(settings: MeshSettings, http_port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [
                MESH,
                "run",
                str(FOLDER),
                "--http-port",
                str(http_port),
                "--sql-port",
                str(free_port()),
                "--batch-size",
                "250",
                "--batch-interval",
                "0.2",
            ],
            env=settings.environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _up(http: httpx.Client) -> bool:
    try:
        return http.get("/health").status_code == 200
    except httpx.HTTPError:
        return False


def _count(settings: MeshSettings, session: str) -> int:
    """The session's events in the history, as the lakehouse holds them (the product may be down)."""
    table = iceberg_catalog(settings).load_table(HISTORY)
    return int(table.scan(row_filter=EqualTo("session_id", session), selected_fields=("event_id",)).count())


def test_kill_9_mid_ingest_loses_nothing_and_duplicates_nothing(
    embedded_stack: Stack, tmp_path: Path, make_event: Callable[..., dict[str, Any]], sender_type: Any
) -> None:
    settings = embedded_stack.settings
    session = str(uuid.uuid4())
    http_port = free_port()
    http = httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10)
    events = [make_event(session, i) for i in range(EVENTS)]

    def produce() -> None:
        sender = sender_type(settings)
        for i, e in enumerate(events):
            sender.valid(e)
            if i % 100 == 99:
                sender.flush()
                time.sleep(0.1)  # a steady stream, so the kill lands while events still arrive
        sender.flush()

    product = _start(settings, http_port, tmp_path / "run-1.log")
    try:
        eventually(lambda: _up(http), attempts=150)
        producer = threading.Thread(target=produce)
        producer.start()
        eventually(lambda: _count(settings, session) >= EVENTS // 8, attempts=300)
        os.killpg(product.pid, signal.SIGKILL)  # mid-ingest, no goodbye
        product.wait(timeout=30)
        table = iceberg_catalog(settings).load_table(HISTORY)
        at_kill = table.scan(row_filter=EqualTo("session_id", session), selected_fields=("event_id",)).to_arrow()
        assert 0 < at_kill.num_rows < EVENTS, "the kill must land mid-ingest"
        producer.join(timeout=120)

        product = _start(settings, http_port, tmp_path / "run-2.log")
        eventually(lambda: _count(settings, session) == EVENTS, attempts=300)
    finally:
        if product.poll() is None:
            product.send_signal(signal.SIGTERM)
            try:
                product.wait(timeout=60)
            except subprocess.TimeoutExpired:  # never leave a product behind, whatever went wrong
                os.killpg(product.pid, signal.SIGKILL)
                product.wait(timeout=30)
        http.close()

    table = iceberg_catalog(settings).load_table(HISTORY)
    ids = table.scan(row_filter=EqualTo("session_id", session), selected_fields=("event_id",)).to_arrow()
    assert ids.num_rows == EVENTS
    assert len(set(ids.column("event_id").to_pylist())) == EVENTS
    assert set(ids.column("event_id").to_pylist()) == {e["event_id"] for e in events}

    streamed = streamed_event_ids(settings, session)
    assert len(streamed) == EVENTS
    assert set(streamed) == {e["event_id"] for e in events}
