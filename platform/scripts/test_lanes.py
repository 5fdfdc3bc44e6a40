"""The test suite in three lanes at once: the labs on a mesh of their own (tests/labs), the fault
catalogue on another (tests/faults), every other test on the session's stack. Each lane mostly waits on
servers (traffic, outages, SLOs, recoveries), so they share two cores well and the suite takes about
the time of the longest lane. Each
line is shown as it comes, prefixed by its lane; the exit code is the first lane's failure, if any.
A failed lane's failures are printed again at the very end, so that the tail of a CI log (often all
that is kept) names what failed.

Usage: python test_lanes.py [PYTEST ARGS...]   (extra arguments go to both lanes)"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

LANES = {
    "labs": ["tests/labs", "-v", "-rfE"],  # a line per lab: each takes minutes
    "faults": ["tests/faults", "-v", "-rfE"],
    "rest": ["--ignore=tests/labs", "--ignore=tests/faults", "--durations=25"],  # where its time goes
}


REPEATED_LINES = 120  # of a failed lane's report, at the end
# librdkafka logs straight to stderr, and a client that outlives the servers at the end of a run
# repeats its connection failures every few milliseconds: in the report they would push out the
# summary that names the failed tests.
CLIENT_LOG = re.compile(r"^%\d\|\d+\.\d+\|[A-Z_]+\|rdkafka#")


def _relay(name: str, process: subprocess.Popen[str], lock: threading.Lock, kept: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        kept.append(line)
        with lock:
            sys.stdout.write(f"[{name}] {line}")
            sys.stdout.flush()


def _failure_report(lines: list[str]) -> list[str]:
    """pytest's FAILURES and ERRORS sections and its summary, shortened to their last lines; the short
    summary (one line per failed test) is always kept whole."""
    lines = [line for line in lines if not CLIENT_LOG.match(line)]
    start = next(
        (i for i, line in enumerate(lines) if line.startswith("=") and (" FAILURES " in line or " ERRORS " in line)),
        max(0, len(lines) - REPEATED_LINES),
    )
    report = lines[start:]
    if len(report) <= REPEATED_LINES:
        return report
    summary = next((i for i, line in enumerate(report) if "short test summary info" in line), len(report))
    details = report[:summary][-(REPEATED_LINES // 2) :]
    return [*details, *report[summary:]]


def main(extra: list[str]) -> int:
    pytest = str(Path(sys.executable).parent / "pytest")
    began = time.monotonic()
    lock = threading.Lock()
    running: dict[str, subprocess.Popen[str]] = {}
    relays = []
    output: dict[str, list[str]] = {name: [] for name in LANES}
    for name, selection in LANES.items():
        process = subprocess.Popen(
            [pytest, *selection, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        running[name] = process
        relay = threading.Thread(target=_relay, args=(name, process, lock, output[name]), daemon=True)
        relay.start()
        relays.append(relay)
    codes: dict[str, int] = {}
    took: dict[str, float] = {}
    while len(codes) < len(running):  # each lane's own time: the longest decides the suite's
        for name, process in running.items():
            if name not in codes and process.poll() is not None:
                codes[name], took[name] = process.returncode, (time.monotonic() - began) / 60
        time.sleep(1)
    codes = {name: codes[name] for name in running}
    for relay in relays:
        relay.join()
    for name, code in codes.items():
        if code != 0:
            print(f"\n[{name}] ===== what failed in the {name} lane (repeated) =====")
            sys.stdout.writelines(f"[{name}] {line}" for line in _failure_report(output[name]))
    minutes = (time.monotonic() - began) / 60
    summary = ", ".join(
        f"{name}: {'passed' if code == 0 else f'FAILED ({code})'} in {took[name]:.1f} min"
        for name, code in codes.items()
    )
    print(f"\ntest lanes done in {minutes:.1f} min: {summary}")
    return next((code for code in codes.values() if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
