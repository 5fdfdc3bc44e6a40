"""What the catalog would say to a product folder's registration, asked before the product starts
(`POST /products/check`): `mesh catalog check` prints it, lab 04 looks for GOV-004 in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from mesh_config import MeshSettings


def judge_folder(settings: MeshSettings, folder: Path) -> dict[str, Any]:
    """The catalog's verdict on the folder as the product would serve it, on the port it would serve
    it from. Raises SpecError for a folder that does not load, httpx.HTTPError when the catalog does
    not answer or refuses the request."""
    from mesh_sdk.spec.product import dump, load_product
    from mesh_stack.assembly import product_ports

    product = load_product(folder)
    url = f"http://{settings.host}:{product_ports(settings, folder.resolve().name).http}"
    answer = httpx.post(
        f"{settings.product_catalog_endpoint}/products/check", json={"url": url, "document": dump(product)}, timeout=30
    )
    answer.raise_for_status()
    judged: dict[str, Any] = answer.json()
    return judged
