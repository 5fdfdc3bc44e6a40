"""Lab 18's checks: the learner's answer, and the catalog's verdict on the learner's folder (asked before
the product exists: `POST /products/check`, what `mesh catalog check` prints)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
NAME = "churn.win-back"
HERE = Path(__file__).resolve().parent
WHY_NOT = {
    "raw": "a raw product is one source system's data as received; the brief combines three products",
    "derived": "derived data alone has no offer to make: the title to offer is an algorithm's output",
    "decision-support": "the brief asks for people to contact, not for figures to decide with",
    "ml-model": "no new model is asked for: the offer comes from the recommender that exists",
    "hybrid": "nobody asked for source records as received beside the derived ones",
}


def _folder(mesh: LabMesh) -> Path:
    return mesh.settings.products_dir / NAME


@lab.setup
def no_such_folder_yet(mesh: LabMesh) -> None:
    shutil.rmtree(_folder(mesh), ignore_errors=True)


@lab.reset
def remove_the_folder(mesh: LabMesh) -> None:
    shutil.rmtree(_folder(mesh), ignore_errors=True)


@lab.check("type")
def chose_the_type(mesh: LabMesh) -> Outcome:
    chosen = mesh.answer("type").lower()
    if chosen == "composite":
        return passed("composite: derived data (viewing, consent) merged with an algorithm's output (the offer)")
    if chosen in WHY_NOT:
        return failed(f"{chosen}: {WHY_NOT[chosen]}")
    return failed(f"{chosen!r} is not a product type: raw, derived, decision-support, ml-model, hybrid or composite")


@lab.solve("type")
def answer_composite(mesh: LabMesh) -> None:
    mesh.give_answer("type", "composite")


def _judged(mesh: LabMesh) -> dict[str, Any] | str:
    """The catalog's verdict on the folder, or what keeps the folder from loading."""
    from mesh_client.registration_check import judge_folder
    from mesh_sdk.spec.errors import SpecError

    if not _folder(mesh).is_dir():
        return f"no folder {_folder(mesh)}"
    try:
        return judge_folder(mesh.settings, _folder(mesh))
    except SpecError as exc:
        return f"the folder does not load: {exc}"


@lab.check("descriptor")
def objective_and_personas(mesh: LabMesh) -> Outcome:
    from mesh_sdk.spec.product import load_product

    judged = _judged(mesh)
    if isinstance(judged, str):
        return failed(judged)
    missing = [v for v in judged["violations"] if v["policy"] == "GOV-014"]
    if missing:
        return failed("; ".join(f"{v['field']}: {v['problem']}" for v in missing))
    descriptor = load_product(_folder(mesh)).descriptor
    if descriptor.type != "composite":
        return failed(f"the descriptor says type {descriptor.type}; the brief is a composite product (step type)")
    roles = ", ".join(p.role for p in descriptor.personas)
    return passed(f"a composite product for {roles}: {(descriptor.business_objective or '')[:80]}...")


@lab.solve("descriptor")
def write_descriptor(mesh: LabMesh) -> None:
    shutil.copytree(HERE / "starter", _folder(mesh), dirs_exist_ok=True)
    shutil.copy(HERE / "solution" / "dataproduct.yaml", _folder(mesh) / "dataproduct.yaml")


@lab.check("contract")
def past_governance(mesh: LabMesh) -> Outcome:
    judged = _judged(mesh)
    if isinstance(judged, str):
        return failed(judged)
    if judged["violations"]:
        said = "; ".join(f"{v['policy']} ({v['severity']}) {v['field']}: {v['problem']}" for v in judged["violations"])
        return failed(("refused: " if judged["refused"] else "accepted with warnings: ") + said)
    return passed(f"{judged['product']}: would be accepted, without a single warning")


@lab.solve("contract")
def write_contract(mesh: LabMesh) -> None:
    shutil.copy(HERE / "solution" / "contract.yaml", _folder(mesh) / "contract.yaml")
