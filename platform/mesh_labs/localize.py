"""A lab's texts with the learner's own addresses. Tasks and hints are written with the mesh's default
ports (what a learner copies and pastes on a default mesh, and what the README shows); a mesh on other
ports (a second mesh beside the first, a test's) gets them rewritten to its own."""

from __future__ import annotations

import re

from mesh_config import MeshSettings
from mesh_labs.spec import LabSpec
from mesh_stack.assembly import DEMO_PRODUCTS, product_ports


def addresses(settings: MeshSettings) -> dict[str, str]:
    """Each default `host:port` a lab may name, and the one this mesh has instead (when they differ)."""
    default = MeshSettings.model_construct()  # the documented defaults, whatever the environment says
    pairs = [
        (default.product_catalog_port, settings.product_catalog_port),
        (default.connect_port, settings.connect_port),
        (default.registry_port, settings.registry_port),
    ]
    for name in DEMO_PRODUCTS:
        mine, theirs = product_ports(default, name), product_ports(settings, name)
        pairs += [(mine.http, theirs.http), (mine.sql, theirs.sql)]
    return {f"127.0.0.1:{a}": f"{settings.host}:{b}" for a, b in pairs if a != b or settings.host != "127.0.0.1"}


def localized(spec: LabSpec, settings: MeshSettings) -> LabSpec:
    moved = addresses(settings)
    if not moved:
        return spec

    # One pass, longest first: an address is never rewritten twice, nor a longer one by its prefix.
    pattern = re.compile("|".join(re.escape(a) for a in sorted(moved, key=len, reverse=True)) + r"(?!\d)")

    def text(value: str) -> str:
        return pattern.sub(lambda m: moved[m.group(0)], value)

    steps = [
        s.model_copy(update={"task": text(s.task), "observe": text(s.observe), "hints": [text(h) for h in s.hints]})
        for s in spec.steps
    ]
    return spec.model_copy(update={"steps": steps})
