"""Lab 04's checks: the schema registry's versions of the product's stream, the product's log (the
registry's refusal), the catalog's entries and violations (governance's refusal), and the new major."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
NAME = "content-insights.genres"
V1, V2 = "urn:mesh:content-insights:genres:v1", "urn:mesh:content-insights:genres:v2"
SUBJECT = "content-insights.genres.stream.v1-value"
HERE = Path(__file__).resolve().parent
PRODUCT = HERE.parent / "12-derived-product"  # lab 12's product, which this lab evolves
STREAM = """  - name: stream
    kind: kafka
    source: genres
    description: Every change of a genre's row as Avro on content-insights.genres.stream.v1, keyed by genre.
"""


def _folder(mesh: LabMesh) -> Path:
    return mesh.settings.products_dir / NAME


def _restart(mesh: LabMesh) -> None:
    from mesh_stack.assembly import ensure_products
    from mesh_stack.products import stop_product

    stop_product(mesh.settings, NAME)
    ensure_products(mesh.settings, [NAME])


@lab.setup
def lab_12s_product_with_a_stream(mesh: LabMesh) -> None:
    mesh.retire(NAME)
    shutil.copytree(PRODUCT / "starter", _folder(mesh))
    shutil.copy(PRODUCT / "solution" / "genres.sql", _folder(mesh) / "derivation" / "genres.sql")
    descriptor = _folder(mesh) / "dataproduct.yaml"
    descriptor.write_text(descriptor.read_text().replace("  - name: rest\n", STREAM + "  - name: rest\n", 1))
    _restart(mesh)
    mesh.wait_for(lambda: _contract(mesh, V1), f"{NAME} listed by the catalog", 90)
    mesh.mark_process(NAME)


@lab.reset
def retire_every_major(mesh: LabMesh) -> None:
    mesh.retire(NAME)


def _contract(mesh: LabMesh, product_id: str) -> dict[str, Any] | None:
    try:
        contract: dict[str, Any] = mesh.catalog(f"/products/{product_id}")["document"]["contract"]
    except Exception:  # not listed
        return None
    return contract


def _stream_fields(mesh: LabMesh) -> list[str]:
    import json

    from confluent_kafka.schema_registry import SchemaRegistryClient

    registry = SchemaRegistryClient({"url": mesh.settings.schema_registry_url})
    if SUBJECT not in registry.get_subjects():
        return []
    latest = registry.get_latest_version(SUBJECT)
    return [f["name"] for f in json.loads(latest.schema.schema_str or "{}")["fields"]]


def _columns(contract: dict[str, Any] | None) -> list[str]:
    return [p["name"] for o in (contract or {}).get("schema", []) for p in o.get("properties", [])]


@lab.check("compatible")
def compatible(mesh: LabMesh) -> Outcome:
    contract = _contract(mesh, V1)
    if "share" not in _stream_fields(mesh):
        return failed("the registry holds no version of the stream's schema with a column share")
    if contract is None or contract.get("version") != "1.1.0" or "share" not in _columns(contract):
        return failed(f"the catalog lists contract {(contract or {}).get('version')} of {V1}, without share")
    return passed("the registry took the new schema; the catalog lists contract 1.1.0 with share")


@lab.solve("compatible")
def add_share(mesh: LabMesh) -> None:
    contract = _folder(mesh) / "contract.yaml"
    column = (HERE / "solution" / "share-column.yaml").read_text().split("\n", 1)[1]
    contract.write_text(contract.read_text().replace("version: 1.0.0", "version: 1.1.0", 1) + column)
    shutil.copy(HERE / "solution" / "compatible.sql", _folder(mesh) / "derivation" / "genres.sql")
    _restart(mesh)
    mesh.wait_for(lambda: compatible(mesh).passed, "contract 1.1.0 in the registry and the catalog", 90)


@lab.check("breaking")
def refused_by_registry(mesh: LabMesh) -> Outcome:
    log = mesh.since_mark(NAME).log
    if "title_count" in _stream_fields(mesh):
        return failed("the registry took a schema with title_count: was the stream's subject deleted?")
    if "incompatible" not in log.lower():
        return failed("the product has not been refused by the schema registry since the lab started")
    return passed("the registry refused the stream's schema without titles as incompatible")


@lab.solve("breaking")
def rename(mesh: LabMesh) -> None:
    from mesh_stack import StackError

    contract = _folder(mesh) / "contract.yaml"
    contract.write_text(contract.read_text().replace("      - name: titles\n", "      - name: title_count\n", 1))
    query = _folder(mesh) / "derivation" / "genres.sql"
    query.write_text(query.read_text().replace("AS titles,", "AS title_count,", 1))
    with contextlib.suppress(StackError):  # the product does not start: that is the point
        _restart(mesh)
    mesh.wait_for(lambda: refused_by_registry(mesh).passed, "the registry's refusal", 60)


def _refusal(mesh: LabMesh) -> str | None:
    """GOV-004's refusal of the folder as it is now, as `mesh catalog check` asks for it."""
    from mesh_client.registration_check import judge_folder

    try:
        judged = judge_folder(mesh.settings, _folder(mesh))
    except Exception:  # a folder that does not load is not judged
        return None
    found = [v for v in judged["violations"] if v["policy"] == "GOV-004" and "titles" in v["problem"]]
    return str(found[0]["problem"]) if found else None


@lab.check("governance")
def refused_by_governance(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("governance").strip().upper()
    if _contract(mesh, V2) is None and _refusal(mesh) is None:
        return failed(f"the catalog would accept the folder as it is: it breaks nothing of {V1}'s contract")
    if answer != "GOV-004":
        return failed(f"{answer} is not the policy that refuses the folder")
    return passed("GOV-004 refuses the removed column within the same major")


@lab.solve("governance")
def ask_governance(mesh: LabMesh) -> None:
    assert _refusal(mesh) is not None, "the catalog would accept the folder"
    mesh.give_answer("governance", "GOV-004")


@lab.check("major")
def new_major(mesh: LabMesh) -> Outcome:
    contract = _contract(mesh, V2)
    if contract is None:
        return failed(f"the catalog does not list {V2}")
    if "title_count" not in _columns(contract):
        return failed(f"{V2} is listed, without title_count")
    if _contract(mesh, V1) is None:
        return failed(f"{V1} is gone from the catalog: its consumers lost their product")
    return passed(f"{V2} is listed with title_count, beside {V1}")


@lab.solve("major")
def publish_v2(mesh: LabMesh) -> None:
    for name in ("dataproduct.yaml", "contract.yaml"):
        path = _folder(mesh) / name
        text = path.read_text().replace(V1, V2).replace("version: 1.1.0", "version: 2.0.0")
        path.write_text(text.replace("genres_genres_v1", "genres_genres_v2"))
    _restart(mesh)
    mesh.wait_for(lambda: new_major(mesh).passed, f"{V2} listed", 90)
