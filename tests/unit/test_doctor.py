"""mesh doctor's findings and the one line a trainer collects."""

from __future__ import annotations

import socket
from pathlib import Path

from mesh_config import load_settings
from mesh_stack.doctor import Finding, examine, ports, summary


def test_the_summary_says_ready_only_when_nothing_fails() -> None:
    ok = [Finding("java", "ok", "17"), Finding("disk", "ok", "80 GB free")]
    assert summary(ok).startswith("mesh doctor: READY ·")
    assert "READY (with warnings)" in summary([*ok, Finding("memory", "warn", "4 GB available")])
    line = summary([*ok, Finding("ports", "fail", "26/27 free; taken: kafka 19092")])
    assert line.startswith("mesh doctor: NOT READY") and "taken: kafka 19092 [fail]" in line
    assert "\n" not in line


def test_a_taken_port_fails_unless_the_mesh_itself_holds_it(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        settings = load_settings(home=tmp_path, cache_dir=tmp_path / "cache", kafka_port=taken)
        assert taken in ports(settings).values()
        found = {f.what: f for f in examine(settings, lambda: False)}
        assert found["ports"].verdict == "fail" and f"kafka {taken}" in found["ports"].seen
        assert {f.what: f for f in examine(settings, lambda: True)}["ports"].verdict == "ok"


def test_cold_caches_are_reported_with_what_to_do(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, cache_dir=tmp_path / "empty-cache")
    caches = {f.what: f for f in examine(settings, lambda: False)}["caches"]
    assert caches.verdict in ("warn", "fail") and caches.seen.startswith("cold: 0/5 jar sets")
    assert caches.fix
