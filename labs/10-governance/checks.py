"""Lab 10's checks: the catalog's policies and violations, and playback.events' own discovery port.
The setup keeps the governance file and the product's descriptor as they were; the reset puts them
back and waits until the catalog and the product have them again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
PRODUCT = "playback.events"
PRODUCT_ID = "urn:mesh:playback:events:v1"
NEW_POLICY = """
  - id: GOV-100
    title: Every product can be found by tags
    severity: warn
    rule: fields_present
    rationale: People search the catalog by words that are not in a product's name.
    fix: Add `tags` (a list of words) to dataproduct.yaml.
    parameters:
      fields: [descriptor.tags]
"""


def _policies_file(mesh: LabMesh) -> Path:
    return mesh.settings.policies_file


def _descriptor(mesh: LabMesh) -> Path:
    return mesh.settings.products_dir / PRODUCT / "dataproduct.yaml"


@lab.setup
def keep_files(mesh: LabMesh) -> None:
    mesh.baseline["policies_text"] = _policies_file(mesh).read_text()
    mesh.baseline["descriptor_text"] = _descriptor(mesh).read_text()
    mesh.baseline["policy_ids"] = [p["id"] for p in mesh.catalog("/policies")["policies"]]


@lab.reset
def restore_files(mesh: LabMesh) -> None:
    import subprocess
    import sys

    if "policies_text" not in mesh.baseline:
        return
    if _policies_file(mesh).read_text() != mesh.baseline["policies_text"]:
        _policies_file(mesh).write_text(mesh.baseline["policies_text"])
    original = set(mesh.baseline["policy_ids"])
    mesh.wait_for(
        lambda: {p["id"] for p in mesh.catalog("/policies")["policies"]} == original, "the catalog's reload", 30
    )
    if _descriptor(mesh).read_text() != mesh.baseline["descriptor_text"]:
        _descriptor(mesh).write_text(mesh.baseline["descriptor_text"])
        mesh_command = str(Path(sys.executable).parent / "mesh")
        subprocess.run([mesh_command, "restart", PRODUCT], env=mesh.settings.environment(), check=True)
    mesh.wait_for(lambda: not _masked(mesh) - set(mesh.baseline.get("masked_before", [])), "the masks lifted", 30)


def _new_policies(mesh: LabMesh) -> list[str]:
    known = set(mesh.baseline["policy_ids"])
    return [p["id"] for p in mesh.catalog("/policies")["policies"] if p["id"] not in known]


def _violators(mesh: LabMesh, policy_ids: list[str]) -> set[str]:
    found = mesh.catalog("/violations", only_violating="true")["products"]
    return {p["product"] for p in found if any(v["policy"] in policy_ids for v in p["violations"])}


@lab.check("policy")
def policy_added(mesh: LabMesh) -> Outcome:
    error = mesh.catalog("/policies").get("error")
    if error:
        return failed(f"the policy file does not load, the previous policies stay in force: {error}")
    new = _new_policies(mesh)
    if not new:
        return failed("no policy was added to the ones in force when the lab started")
    return passed(f"{', '.join(new)} in force")


@lab.solve("policy")
def add_policy(mesh: LabMesh) -> None:
    _policies_file(mesh).write_text(_policies_file(mesh).read_text().rstrip("\n") + "\n" + NEW_POLICY)
    mesh.wait_for(lambda: _new_policies(mesh) and _violators(mesh, _new_policies(mesh)), "the policy in force", 40)


@lab.check("violations")
def counted(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("violations")
    new = _new_policies(mesh)
    if not new:
        return failed("add a policy first")
    violators = _violators(mesh, new)
    # Counted before or after fixing the product of the next step: both are right.
    if answer in (str(len(violators)), str(len(violators | {PRODUCT_ID}))):
        return passed(f"{len(violators)} product(s) violate {', '.join(new)}: {', '.join(sorted(violators))}")
    return failed(f"{answer!r} is not the number of products violating {', '.join(new)}")


@lab.solve("violations")
def count(mesh: LabMesh) -> None:
    mesh.give_answer("violations", len(_violators(mesh, _new_policies(mesh))))


@lab.check("fix")
def fixed(mesh: LabMesh) -> Outcome:
    new = _new_policies(mesh)
    if not new:
        return failed("add a policy first")
    if PRODUCT_ID in _violators(mesh, new):
        return failed(f"{PRODUCT} still violates {', '.join(new)}")
    status = {e["id"]: e["status"] for e in mesh.catalog("/products")}.get(PRODUCT_ID)
    if status != "available":
        return failed(f"{PRODUCT} is {status}: is it running (mesh status)?")
    return passed(f"{PRODUCT} complies with {', '.join(new)}")


@lab.solve("fix")
def add_tags(mesh: LabMesh) -> None:
    import subprocess
    import sys

    _descriptor(mesh).write_text(_descriptor(mesh).read_text().rstrip("\n") + "\ntags: [telemetry, viewing, events]\n")
    mesh_command = str(Path(sys.executable).parent / "mesh")
    subprocess.run([mesh_command, "restart", PRODUCT], env=mesh.settings.environment(), check=True)
    mesh.wait_for(lambda: PRODUCT_ID not in _violators(mesh, _new_policies(mesh)), "the catalog's next pull", 40)


def _masked(mesh: LabMesh) -> set[str]:
    document: dict[str, Any] = mesh.describe(PRODUCT)
    return set((document.get("policy") or {}).get("masked") or [])


def _internal_columns(mesh: LabMesh) -> set[str]:
    document: dict[str, Any] = mesh.describe(PRODUCT)
    columns = set()
    for table in document["contract"]["schema"]:
        for prop in table.get("properties", []):
            if prop.get("classification") == "internal":
                columns.add(prop["name"])
    return columns


@lab.check("mask")
def masked_live(mesh: LabMesh) -> Outcome:
    internal, masked = _internal_columns(mesh), _masked(mesh)
    if internal and internal <= masked:
        return passed(f"{PRODUCT} masks {', '.join(sorted(internal))} on its query ports, without a restart")
    return failed(
        f"{PRODUCT} masks {', '.join(sorted(masked)) or 'nothing'}; its internal columns: {', '.join(sorted(internal))}"
    )


@lab.solve("mask")
def push_mask(mesh: LabMesh) -> None:
    text = _policies_file(mesh).read_text()
    block = text.index("id: GOV-010")
    end = text.index("classifications: [restricted]", block)
    updated = (
        text[:end] + "classifications: [restricted, internal]" + text[end + len("classifications: [restricted]") :]
    )
    _policies_file(mesh).write_text(updated)
    mesh.wait_for(lambda: _internal_columns(mesh) <= _masked(mesh), "the mask reaching the product", 40)
    mesh.learner.rest(PRODUCT, "/history", limit=3)
