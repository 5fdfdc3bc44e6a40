"""A service that dies of a signal nobody sent is started again; one that exits, or is asked to stop,
is not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVICE = """#!{python}
import os, signal, sys, time
sys.path.insert(0, {platform!r})
from mesh_stack.supervise import service_pid, supervise
exited = supervise("the test service")
if exited is not None:
    sys.exit(exited)
marker = {marker!r}
print("serving as", service_pid(), flush=True)
if {behaviour!r} == "crash-once" and not os.path.exists(marker):
    open(marker, "w").close()
    os.kill(os.getpid(), signal.SIGKILL)  # as librdkafka's abort() ends a process: nothing to catch
if {behaviour!r} == "exit-3":
    sys.exit(3)
if {behaviour!r} == "serve":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(0.1)
"""


def _service(tmp_path: Path, behaviour: str) -> Path:
    script = tmp_path / "service.py"
    platform = str(Path(__file__).resolve().parents[2] / "platform")
    text = SERVICE.format(python=sys.executable, platform=platform, marker=str(tmp_path / "died"), behaviour=behaviour)
    script.write_text(text)
    script.chmod(0o755)
    return script


def test_a_service_killed_by_a_signal_nobody_sent_is_started_again(tmp_path: Path) -> None:
    done = subprocess.run([str(_service(tmp_path, "crash-once"))], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "the test service died (SIGKILL), not asked to: starting it again" in done.stderr
    assert done.stdout.count("serving as") == 2


def test_a_service_that_exits_by_itself_is_not_started_again(tmp_path: Path) -> None:
    done = subprocess.run([str(_service(tmp_path, "exit-3"))], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert done.stdout.count("serving as") == 1


def test_a_service_asked_to_stop_stops_and_reports_the_supervisors_pid(tmp_path: Path) -> None:
    supervisor = subprocess.Popen(
        [str(_service(tmp_path, "serve"))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert supervisor.stdout is not None
    assert supervisor.stdout.readline().strip() == f"serving as {supervisor.pid}"
    time.sleep(0.2)
    os.kill(supervisor.pid, signal.SIGTERM)
    assert supervisor.wait(timeout=30) == 0
    assert "starting it again" not in (supervisor.stderr.read() if supervisor.stderr else "")
