"""Lab 01's checks: answers checked against the catalog; reads checked in the access log."""

from __future__ import annotations

from functools import partial

from mesh_client.consumer import folder_name
from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
PRODUCT = "playback.events"
PRODUCT_ID = "urn:mesh:playback:events:v1"
COLUMN = "position_ms"
STREAM = "playback.events.stream-masked.v1"  # country is PII: without a PII grant, the masked twin


def _products_with_column(mesh: LabMesh) -> set[str]:
    hits = mesh.catalog("/search", q=COLUMN)
    return {folder_name(h) for h in hits if any(COLUMN in m and m.startswith("column") for m in h["matches"])}


@lab.check("find")
def found(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("find")
    holders = _products_with_column(mesh)
    named = folder_name({"id": answer})
    if named in holders:
        return passed(f"{named} holds {COLUMN}")
    return failed(f"{answer!r} holds no column {COLUMN}")


@lab.solve("find")
def find(mesh: LabMesh) -> None:
    mesh.give_answer("find", sorted(_products_with_column(mesh))[0])


def _owner(mesh: LabMesh) -> str:
    return str(mesh.catalog(f"/products/{PRODUCT_ID}")["owner"]["team"])


@lab.check("owner")
def owner_named(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("owner")
    if answer.strip().lower() == _owner(mesh).lower():
        return passed(f"owned by {answer}")
    return failed(f"{answer!r} is not the team the descriptor names")


@lab.solve("owner")
def owner(mesh: LabMesh) -> None:
    mesh.give_answer("owner", _owner(mesh))


# The reads are the learner's own, so the access log has them under the learner's name.
for step, port in (("rest", "rest"), ("graphql", "graphql"), ("sql", "sql"), ("stream", "kafka")):
    lab.check(step)(partial(LabMesh.learner_read, product_id=PRODUCT_ID, ports=(port,)))


@lab.solve("rest")
def rest(mesh: LabMesh) -> None:
    mesh.learner.rest(PRODUCT, "/history", limit=3)


@lab.solve("graphql")
def graphql(mesh: LabMesh) -> None:
    mesh.learner.graphql(PRODUCT, "{ history(first: 3) { items { eventId eventType positionMs } } }")


@lab.solve("sql")
def sql(mesh: LabMesh) -> None:
    mesh.learner.sql(PRODUCT, "SELECT event_id, event_type, position_ms FROM playback.events_history_v1 LIMIT 3")


@lab.solve("stream")
def stream(mesh: LabMesh) -> None:
    list(mesh.learner.consume(STREAM, limit=5))
