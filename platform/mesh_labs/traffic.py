"""The app's telemetry in the labs that break something under traffic: sent through the real generator,
accounted for from the lab's start (every message set aside with a reason, or kept exactly once), and
the step every such lab ends with, where the learner counts what the history kept."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from subprocess import DEVNULL

from mesh_chaos import evidence
from mesh_labs.mesh import LabMesh
from mesh_labs.outcome import Outcome, failed, passed

PRODUCT = "playback.events"
INPUT = evidence.INPUT


def mark(mesh: LabMesh) -> None:
    """From here on, every message sent to the product is accounted for."""
    mesh.mark(evidence.INPUT)
    mesh.mark(evidence.DEAD_LETTERS)


def accounting(mesh: LabMesh) -> evidence.Accounting:
    offsets = mesh.baseline.get("offsets", {})
    marks = {t: {int(p): o for p, o in offsets.get(t, {}).items()} for t in (evidence.INPUT, evidence.DEAD_LETTERS)}
    return evidence.account(mesh.settings, marks)


def send(mesh: LabMesh, *args: str, background: bool = False) -> None:
    """`mesh generate playback ARGS` as the learner runs it; in the background, as in a second terminal
    (`wait_sent` waits for it, from any later solve)."""
    generate(mesh, "playback", *args, background=background)


def generate(mesh: LabMesh, workload: str, *args: str, background: bool = False) -> None:
    """`mesh generate WORKLOAD ARGS` (playback, legacy, content), in the foreground or the background."""
    argv = [str(Path(sys.executable).parent / "mesh"), "generate", workload, *args]
    if not background:
        subprocess.run(argv, env=mesh.settings.environment(), check=True, capture_output=True)
        return
    generator = subprocess.Popen(argv, env=mesh.settings.environment(), stdout=DEVNULL, stderr=DEVNULL)
    mesh.baseline["generator"] = generator.pid


def wait_sent(mesh: LabMesh, timeout_s: float = 120) -> None:
    pid = mesh.baseline.pop("generator", None)
    if pid is not None:
        mesh.wait_ended(int(pid), "the traffic generator to finish", timeout_s)


def lag(mesh: LabMesh) -> int:
    return int(sum(mesh.describe(PRODUCT, "/observations")["consumer_lag"].values()))


def wait_caught_up(mesh: LabMesh, timeout_s: float = 120) -> None:
    """As a learner watching the observation port: until the product's consumer lag is zero."""
    time.sleep(6)  # the lag is measured after a batch, at most every 5 s
    mesh.wait_for(lambda: mesh.describe(PRODUCT, "/health") and lag(mesh) == 0, f"{PRODUCT} catching up", timeout_s)


def check_kept(mesh: LabMesh, step: str) -> Outcome:
    """The learner's count of the rows the traffic put in the history, against the lab's own accounting
    (read from the topics and the table, independent of the product's code)."""
    answer = mesh.answer(step)
    counted = accounting(mesh)
    if not counted.sent:
        return failed("no message sent since the lab started")
    if not counted.exact:
        behind = lag(mesh)
        waiting = f" (the product is {behind} messages behind: wait and check again)" if behind else ""
        return failed(f"{counted}{waiting}")
    if answer not in (str(counted.valid), str(_kept_since_start(mesh))):
        return failed(f"{answer!r} rows: that is not what the history kept since the lab started (count again)")
    return passed(str(counted))


def _kept_since_start(mesh: LabMesh) -> int:
    """The rows the history holds that arrived since the lab started: the learner's count, which also
    holds what was sent before and ingested after (a backlog), whereas the accounting starts at the mark."""
    from datetime import datetime

    from pyiceberg.expressions import GreaterThan

    from mesh_adapters.lakehouse import iceberg_catalog

    started = datetime.fromisoformat(mesh.progress.started_at or "1970-01-01T00:00:00+00:00")
    table = iceberg_catalog(mesh.settings).load_table(evidence.HISTORY)
    after = GreaterThan("ingested_at", started.isoformat())  # type: ignore[call-arg,arg-type]
    return int(table.scan(row_filter=after, selected_fields=("event_id",)).to_arrow().num_rows)


def solve_kept(mesh: LabMesh, step: str) -> None:
    wait_caught_up(mesh)
    started = mesh.progress.started_at
    since = f"ingested_at > TIMESTAMPTZ '{started}'"
    _, rows = mesh.learner.sql(PRODUCT, f"SELECT count(*) FROM {evidence.HISTORY} WHERE {since}")
    mesh.give_answer(step, rows[0][0])
