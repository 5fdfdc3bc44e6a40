"""A long-running service kept up when its process dies of something it could not catch.

librdkafka can end the whole process from one of its own threads, which no Python handler sees: an
assertion on an admin request whose connection dropped (confluentinc/librdkafka#5397) aborted the
catalog on a development mesh when lab 07 stopped the broker. Such a death is told
apart from an ordinary exit by the signal that ended the child; the service is then started again from
its persisted state, at most a few times a minute, with a line in its log. Every start of the child
also enables faulthandler, so that a crash leaves its stack in the log."""

from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import time
from collections import deque
from datetime import UTC, datetime
from types import FrameType

CHILD = "MESH_SUPERVISED_CHILD"
MOST_RESTARTS = 5  # within RESTART_WINDOW_S: a service that cannot stay up is left down, and says so
RESTART_WINDOW_S = 120.0


def _say(line: str) -> None:
    print(f"=== {datetime.now(UTC):%Y-%m-%d %H:%M:%S} {line}", file=sys.stderr, flush=True)


def supervise(what: str) -> int | None:
    """Called first thing by a service's command. In the supervisor: run the same command as a child,
    start it again whenever a signal nobody sent it ends it, and return its exit code once it exits by
    itself or is asked to stop. In the child: return None, and the command serves."""
    if os.environ.get(CHILD):
        faulthandler.enable()
        return None
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    deaths: deque[float] = deque(maxlen=MOST_RESTARTS)
    while True:
        child = subprocess.Popen([sys.argv[0], *sys.argv[1:]], env={**os.environ, CHILD: "1"})
        code = child.wait()
        if stopping or code >= 0:
            return code
        name = signal.Signals(-code).name
        deaths.append(time.monotonic())
        if len(deaths) == MOST_RESTARTS and deaths[-1] - deaths[0] < RESTART_WINDOW_S:
            _say(f"{what} died ({name}) {MOST_RESTARTS} times in {RESTART_WINDOW_S:.0f} s: left down")
            return 1
        _say(f"{what} died ({name}), not asked to: starting it again")
        time.sleep(1.0)


def service_pid() -> int:
    """The pid a service reports as its own (in its health answer, its status file): the supervisor's,
    which is the one its pid file holds and its stop signals."""
    return os.getppid() if os.environ.get(CHILD) else os.getpid()
