"""Lab 05's checks: the dead-letter topic and the input topic read since the lab started, and the
product's history table; the proof is the lab's own, independent of the product's code."""

from __future__ import annotations

import json
from typing import Any

from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
PRODUCT = "playback.events"
INPUT = "playback.telemetry.raw.v1"
DEAD_LETTERS = "playback.events.dlq.v1"
HISTORY = "playback.events_history_v1"


@lab.setup
def note_where_topics_end(mesh: LabMesh) -> None:
    mesh.mark(INPUT)
    mesh.mark(DEAD_LETTERS)
    mesh.baseline["dead_before"] = sum(mesh.describe(PRODUCT, "/observations")["dead_letters"].values())


def _headers(message: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in (message.headers() or [])}


def _dead(mesh: LabMesh) -> list[dict[str, str]]:
    return [_headers(m) for m in mesh.since(DEAD_LETTERS)]


@lab.check("send")
def poison_sent(mesh: LabMesh) -> Outcome:
    sent, dead = len(mesh.since(INPUT)), _dead(mesh)
    if not sent:
        return failed("no message on the input topic since the lab started")
    if not dead:
        return failed(f"{sent} messages sent since the lab started, none of them rejected: add malformed ones")
    kinds: dict[str, int] = {}
    for d in dead:
        kinds[d.get("mesh.dlq.defect", "?")] = kinds.get(d.get("mesh.dlq.defect", "?"), 0) + 1
    return passed(f"{sent} messages sent, {len(dead)} dead letters: {json.dumps(kinds)}")


@lab.solve("send")
def send_poison(mesh: LabMesh) -> None:
    import subprocess
    import sys
    from pathlib import Path

    mesh_command = str(Path(sys.executable).parent / "mesh")
    subprocess.run(
        [mesh_command, "generate", "playback", "--count", "300", "--rate", "300", "--malformed-fraction", "0.1"],
        env=mesh.settings.environment(),
        check=True,
        capture_output=True,
    )
    mesh.wait_for(lambda: len(_dead(mesh)) > 0, "dead letters of the poison", 60)
    _caught_up(mesh)


def _caught_up(mesh: LabMesh) -> None:
    """As a learner watching the observation port: until the product's consumer lag is zero."""
    import time

    time.sleep(6)  # the lag is measured after a batch, at most every 5 s
    mesh.wait_for(
        lambda: sum(mesh.describe(PRODUCT, "/observations")["consumer_lag"].values()) == 0,
        f"{PRODUCT} catching up with the traffic",
        120,
    )


@lab.check("count")
def counted(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("count")
    dead = len(_dead(mesh))
    if answer.strip() == str(dead):
        return passed(f"{dead} dead letters since the lab started, each with its reason")
    return failed(f"{answer!r} is not the number of messages set aside since the lab started")


@lab.solve("count")
def count(mesh: LabMesh) -> None:
    now = sum(mesh.describe(PRODUCT, "/observations")["dead_letters"].values())
    mesh.give_answer("count", now - int(mesh.baseline["dead_before"]))


@lab.check("nothing-lost")
def nothing_lost(mesh: LabMesh) -> Outcome:
    from mesh_chaos import evidence

    answer = mesh.answer("nothing-lost")
    offsets = mesh.baseline.get("offsets", {})
    marks = {topic: {int(p): o for p, o in offsets.get(topic, {}).items()} for topic in (INPUT, DEAD_LETTERS)}
    counted = evidence.account(mesh.settings, marks)
    if not counted.sent:
        return failed("no message sent since the lab started")
    if not counted.exact:
        lag = sum(mesh.describe(PRODUCT, "/observations")["consumer_lag"].values())
        behind = f" (the product is {lag} messages behind: wait and check again)" if lag else ""
        return failed(f"{counted}{behind}")
    if answer != str(counted.valid):
        return failed(f"{answer!r} rows: that is not what your traffic put in the history (count again)")
    return passed(str(counted))


@lab.solve("nothing-lost")
def count_kept(mesh: LabMesh) -> None:
    _caught_up(mesh)
    started = mesh.progress.started_at
    _, rows = mesh.learner.sql(PRODUCT, f"SELECT count(*) FROM {HISTORY} WHERE ingested_at > TIMESTAMPTZ '{started}'")
    mesh.give_answer("nothing-lost", rows[0][0])
