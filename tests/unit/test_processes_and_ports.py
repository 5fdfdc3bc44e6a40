from __future__ import annotations

import os
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
