from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

from mesh_stack.ports import holder_of, is_free
from mesh_stack.process import ManagedProcess


def test_a_taken_port_is_reported_with_its_holder() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not is_free("127.0.0.1", port)
        assert f"pid {os.getpid()}" in holder_of(port)
    assert is_free("127.0.0.1", port)


def test_a_managed_process_is_found_again_and_stopped_with_its_children(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper", tmp_path / "run", tmp_path / "sleeper.log")
    script = "import subprocess, time; subprocess.Popen(['sleep', '300']); time.sleep(300)"
    proc.start([sys.executable, "-c", script])

    again = ManagedProcess("sleeper", tmp_path / "run", tmp_path / "sleeper.log")
    assert again.is_running()
    assert again.rss_bytes() > 0

    again.stop(timeout_s=5)
    assert not again.is_running()
    assert not again.pid_path.exists()


def test_a_recycled_pid_is_not_taken_for_the_server(tmp_path: Path) -> None:
    proc = ManagedProcess("ghost", tmp_path, tmp_path / "ghost.log")
    proc.pid_path.write_text(f'{{"pid": {os.getpid()}, "create_time": 1.0}}')
    assert not proc.is_running()
    assert proc.exited_early()


def test_a_running_process_is_still_known_after_the_wall_clock_is_stepped(tmp_path: Path) -> None:
    """A VM paused and resumed steps the wall clock (33 s once, in CI): every process's start time as
    a date moves with it, its start time since boot does not."""
    import json

    process = ManagedProcess("sleeper", tmp_path / "run", tmp_path / "sleeper.log")
    process.start([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = json.loads(process.pid_path.read_text())
        assert record["since_boot"] is not None
        record["create_time"] -= 33.0  # as recorded before the step, seen after it
        process.pid_path.write_text(json.dumps(record))
        assert process.is_running()
        record["since_boot"] -= 33.0  # another process that took the same pid
        process.pid_path.write_text(json.dumps(record))
        assert not process.is_running()
    finally:
        os.kill(record["pid"], signal.SIGKILL)
