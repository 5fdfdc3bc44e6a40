"""Lab 16's checks: the learner's product's process and discovery port (what it read by name), the
catalog's lineage and violations, and the product's descriptor after the learner declared the port."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
NAME = "content-insights.title-plays"
PRODUCT_ID = "urn:mesh:content-insights:title-plays:v1"
PLAYBACK = "urn:mesh:playback:events:v1"
HISTORY = "playback.events_history_v1"
POLICY = "GOV-013"
HERE = Path(__file__).resolve().parent


def _folder(mesh: LabMesh) -> Path:
    return mesh.settings.products_dir / NAME


@lab.reset
def remove_the_product(mesh: LabMesh) -> None:
    mesh.retire(NAME)


def _discovery(mesh: LabMesh) -> dict[str, Any] | None:
    if mesh.process(NAME).pid is None:
        return None
    try:
        found: dict[str, Any] = mesh.describe(NAME)
    except Exception:  # starting
        return None
    return found


def _undeclared_edge(mesh: LabMesh) -> bool:
    try:
        upstream = mesh.catalog(f"/lineage/{PRODUCT_ID}")["upstream"]
    except Exception:  # not in the catalog (yet)
        return False
    return any(not e["declared"] and (e["source"] == PLAYBACK or "events_history" in e["source"]) for e in upstream)


def _warned(mesh: LabMesh) -> bool:
    try:
        listed = mesh.catalog("/violations", product=PRODUCT_ID)["products"]
    except Exception:  # not in the catalog (yet)
        return False
    return any(v["policy"] == POLICY for p in listed for v in p["violations"])


@lab.check("shortcut")
def shortcut(mesh: LabMesh) -> Outcome:
    found = _discovery(mesh)
    if found is None:
        return failed(f"{NAME} is not running")
    read = [r["table"] for r in found.get("undeclared_reads", [])]
    if HISTORY in read:
        return passed(f"{NAME} runs and read {HISTORY} by name")
    if any(p.get("product") == PLAYBACK for p in found["descriptor"].get("inputPorts", [])):
        return passed(f"{NAME} runs, and declares playback.events already")
    return failed(f"{NAME} runs, but has not read {HISTORY} (yet)")


@lab.solve("shortcut")
def take_the_shortcut(mesh: LabMesh) -> None:
    from mesh_stack.assembly import ensure_products

    shutil.copytree(HERE / "starter", _folder(mesh), dirs_exist_ok=True)
    ensure_products(mesh.settings, [NAME])
    mesh.wait_for(lambda: shortcut(mesh).passed, f"{NAME} reading the history", 90)


@lab.check("flagged")
def flagged(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("flagged").strip().upper()
    if answer != POLICY:
        return failed(f"{answer} is not the policy that warns about {NAME}")
    if _declared(mesh):
        return passed(f"{POLICY} warned about the undeclared read, which is declared now")
    if not _undeclared_edge(mesh):
        return failed("the lineage shows no undeclared dependency of the product (yet)")
    if not _warned(mesh):
        return failed(f"{POLICY} does not warn about {NAME} (yet): the catalog re-reads it every 10 s")
    return passed(f"lineage shows the undeclared read; {POLICY} warns about it")


@lab.solve("flagged")
def look(mesh: LabMesh) -> None:
    mesh.wait_for(lambda: _undeclared_edge(mesh) and _warned(mesh), "the lineage edge and the warning", 90)
    mesh.give_answer("flagged", POLICY)


def _declared(mesh: LabMesh) -> bool:
    found = _discovery(mesh)
    return found is not None and any(
        p.get("product") == PLAYBACK and p.get("port") == "history" for p in found["descriptor"].get("inputPorts", [])
    )


@lab.check("declare")
def declared(mesh: LabMesh) -> Outcome:
    found = _discovery(mesh)
    if found is None:
        return failed(f"{NAME} is not running")
    if not _declared(mesh):
        return failed(f"{NAME} declares no input port on playback.events' history")
    if found.get("undeclared_reads"):
        return failed(f"{NAME} still reads {found['undeclared_reads'][0]['table']} by name: read the port instead")
    if _warned(mesh):
        return failed(f"the catalog still holds {POLICY} against {NAME}: it re-reads the product every 10 s")
    return passed(f"{NAME} reads playback.events through its declared port; no warning")


@lab.solve("declare")
def declare(mesh: LabMesh) -> None:
    from mesh_stack.assembly import ensure_products
    from mesh_stack.products import stop_product

    descriptor = _folder(mesh) / "dataproduct.yaml"
    port = (HERE / "solution" / "input-port.yaml").read_text().split("\n", 1)[1]
    descriptor.write_text(descriptor.read_text().replace("outputPorts:\n", port + "outputPorts:\n", 1))
    shutil.copy(HERE / "solution" / "title_plays.sql", _folder(mesh) / "derivation" / "title_plays.sql")
    stop_product(mesh.settings, NAME)
    ensure_products(mesh.settings, [NAME])
    mesh.wait_for(lambda: declared(mesh).passed, "the declared port in force", 90)
