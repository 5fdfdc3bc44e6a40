"""The test suite in three lanes at once: the labs on a mesh of their own (tests/labs), the fault
catalogue on another (tests/faults), every other test on the session's stack. Each lane mostly waits on
servers (traffic, outages, SLOs, recoveries), so they share two cores well and the suite takes about
the time of the longest lane. Each
line is shown as it comes, prefixed by its lane; the exit code is the first lane's failure, if any.

Usage: python test_lanes.py [PYTEST ARGS...]   (extra arguments go to both lanes)"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

LANES = {
    "labs": ["tests/labs", "-v"],  # a line per lab: each takes minutes
    "faults": ["tests/faults", "-v"],
    "rest": ["--ignore=tests/labs", "--ignore=tests/faults"],
}


def _relay(name: str, process: subprocess.Popen[str], lock: threading.Lock) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        with lock:
            sys.stdout.write(f"[{name}] {line}")
            sys.stdout.flush()


def main(extra: list[str]) -> int:
    pytest = str(Path(sys.executable).parent / "pytest")
    began = time.monotonic()
    lock = threading.Lock()
    running: dict[str, subprocess.Popen[str]] = {}
    relays = []
    for name, selection in LANES.items():
        process = subprocess.Popen(
            [pytest, *selection, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        running[name] = process
        relay = threading.Thread(target=_relay, args=(name, process, lock), daemon=True)
        relay.start()
        relays.append(relay)
    codes = {name: process.wait() for name, process in running.items()}
    for relay in relays:
        relay.join()
    minutes = (time.monotonic() - began) / 60
    summary = ", ".join(f"{name}: {'passed' if code == 0 else f'FAILED ({code})'}" for name, code in codes.items())
    print(f"\ntest lanes done in {minutes:.1f} min: {summary}")
    return next((code for code in codes.values() if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
