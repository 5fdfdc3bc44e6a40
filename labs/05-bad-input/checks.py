"""Lab 05's checks: the dead-letter topic and the input topic read since the lab started, and the
product's history table; the proof is the lab's own, independent of the product's code."""

from __future__ import annotations

import json
from typing import Any

from mesh_labs import Lab, LabMesh, Outcome, failed, passed, traffic

lab = Lab()
PRODUCT = "playback.events"
INPUT = "playback.telemetry.raw.v1"
DEAD_LETTERS = "playback.events.dlq.v1"


@lab.setup
def note_where_topics_end(mesh: LabMesh) -> None:
    traffic.mark(mesh)
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
    traffic.send(mesh, "--count", "300", "--rate", "300", "--malformed-fraction", "0.1")
    mesh.wait_for(lambda: len(_dead(mesh)) > 0, "dead letters of the poison", 60)
    traffic.wait_caught_up(mesh)


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
    return traffic.check_kept(mesh, "nothing-lost")


@lab.solve("nothing-lost")
def count_kept(mesh: LabMesh) -> None:
    traffic.solve_kept(mesh, "nothing-lost")
