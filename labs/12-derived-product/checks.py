"""Lab 12's checks: the learner's folder under products/ (loaded as the mesh loads it), the product's
process and table, the catalog's entry and lineage, and the learner's reads (the access log)."""

from __future__ import annotations

import shutil
from pathlib import Path

from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
NAME = "content-insights.genres"
PRODUCT_ID = "urn:mesh:content-insights:genres:v1"
UPSTREAM = "urn:mesh:content:titles:v1"
TABLE = "content_insights.genres_genres_v1"
TEAM = "Content insights team"
HERE = Path(__file__).resolve().parent


def _folder(mesh: LabMesh) -> Path:
    return mesh.settings.products_dir / NAME


@lab.setup
def no_such_product_yet(mesh: LabMesh) -> None:
    from mesh_client.analyst import owner_key

    mesh.retire(NAME)  # lab 04 leaves its own copy of this product running
    owner_key(mesh.settings, TEAM)  # the learner plays them in the last step


@lab.reset
def remove_the_product(mesh: LabMesh) -> None:
    mesh.retire(NAME)


@lab.check("folder")
def folder_loads(mesh: LabMesh) -> Outcome:
    from mesh_sdk.spec.errors import SpecError
    from mesh_sdk.spec.product import load_product

    if not _folder(mesh).is_dir():
        return failed(f"no folder {_folder(mesh)}")
    try:
        product = load_product(_folder(mesh))
    except SpecError as exc:
        return failed(f"the folder does not load: {exc}")
    return passed(f"{product.id} loads: descriptor, contract and a query per output port")


@lab.solve("folder")
def write_folder(mesh: LabMesh) -> None:
    shutil.copytree(HERE / "starter", _folder(mesh), dirs_exist_ok=True)
    shutil.copy(HERE / "solution" / "genres.sql", _folder(mesh) / "derivation" / "genres.sql")


def _rows(mesh: LabMesh) -> int:
    try:
        return len(mesh.iceberg_rows(TABLE))
    except Exception:  # no table yet
        return 0


@lab.check("run")
def running(mesh: LabMesh) -> Outcome:
    if mesh.process(NAME).pid is None:
        return failed(f"{NAME} is not running")
    listed = {p["id"]: p for p in mesh.catalog("/products")}
    if PRODUCT_ID not in listed:
        return failed(f"{NAME} runs but the catalog does not list it (its log says why: mesh logs product-{NAME})")
    rows = _rows(mesh)
    if not rows:
        return failed(f"{NAME} is listed but its table is empty: is content.titles running?")
    return passed(f"{NAME} runs, is listed by the catalog, and holds {rows} genres")


@lab.solve("run")
def start(mesh: LabMesh) -> None:
    from mesh_stack.assembly import ensure_products

    ensure_products(mesh.settings, [NAME])
    mesh.wait_for(lambda: running(mesh).passed, f"{NAME} listed with rows", 90)


def _edge(mesh: LabMesh) -> dict[str, object] | None:
    try:
        upstream = mesh.catalog(f"/lineage/{PRODUCT_ID}")["upstream"]
    except Exception:  # not in the lineage (yet)
        return None
    return next((e for e in upstream if e["source"] == UPSTREAM and e["target"] == PRODUCT_ID), None)


@lab.check("lineage")
def in_lineage(mesh: LabMesh) -> Outcome:
    edge = _edge(mesh)
    if edge is None:
        return failed(f"no lineage edge from content.titles to {NAME}")
    if not edge["observed"]:
        return failed("the edge is declared; no run of the product has reported reading content.titles yet")
    return passed(f"content.titles → {NAME}: declared by its input port, observed in its runs")


@lab.solve("lineage")
def wait_for_a_run(mesh: LabMesh) -> None:
    mesh.wait_for(lambda: in_lineage(mesh).passed, "the product's run in the lineage", 90)


@lab.check("read")
def read(mesh: LabMesh) -> Outcome:
    ports = mesh.learner_ports(PRODUCT_ID) - {"kafka"}
    if not ports:
        return failed(f"no read of {NAME} by {mesh.learner_id} since the lab started")
    return passed(f"{mesh.learner_id} read {NAME} over {', '.join(sorted(ports))}")


@lab.solve("read")
def get_access_and_read(mesh: LabMesh) -> None:
    mine = [r for r in mesh.catalog("/access/requests", consumer=mesh.learner_id) if r["product"] == PRODUCT_ID]
    if not any(r["status"] == "approved" for r in mine):  # from an earlier round of the lab
        pending = [r for r in mine if r["status"] == "pending"]
        asked = pending[-1] if pending else mesh.learner.request_access(NAME, "content planning")
        mesh.owner_of(PRODUCT_ID).decide(asked["id"], approve=True, note="lab 12")

    def answered() -> bool:
        try:
            mesh.learner.sql(NAME, f"SELECT * FROM {TABLE}")
            return True
        except Exception:  # the grant reaches the product on the control topic within seconds
            return False

    mesh.wait_for(answered, "the grant reaching the product", 60)
