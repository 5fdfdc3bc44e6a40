"""One refresh of a derived product run again, in isolation, on the inputs an earlier refresh read: each
input port pinned to the snapshot that refresh recorded, the clock set to when it ran. Nothing is
committed and nothing is stored: the updates it would commit and the artifacts it would store are
returned, to be compared with what the product did then (a model reproduced from its pinned data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mesh_adapters.lakehouse import iceberg_catalog
from mesh_config import MeshSettings
from mesh_sdk.spec.logic import ArtifactStore, Context, Inputs, Update
from mesh_sdk.spec.product import load_product
from mesh_sdk.storage.upstream import UpstreamTable


class NotReplayable(Exception):
    """The product cannot be run again from one refresh's inputs; the message says why."""


@dataclass
class KeptArtifacts:
    """An artifact store that keeps what is put in memory, and reads what it has not got from the
    product's real store (a derivation may read the model it serves)."""

    real: ArtifactStore
    kept: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def put(self, version: str, name: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        self.kept[(version, name)] = data
        return f"memory://{version}/{name}"

    def get(self, version: str, name: str) -> bytes:
        return self.kept[(version, name)] if (version, name) in self.kept else self.real.get(version, name)

    def versions(self) -> list[str]:
        return sorted({*self.real.versions(), *(v for v, _ in self.kept)})

    def delete(self, version: str) -> None:
        """Only what this replay kept: the real store is never changed by a replay."""
        for kept in [k for k in self.kept if k[0] == version]:
            del self.kept[kept]


@dataclass(frozen=True)
class Replayed:
    updates: Mapping[str, Update]
    artifacts: Mapping[tuple[str, str], bytes]  # (version, name) -> bytes the refresh would have stored


def replay(
    settings: MeshSettings, folder: Path, snapshots: Mapping[str, int | None], now: datetime, artifacts: ArtifactStore
) -> Replayed:
    product = load_product(folder)
    if not product.derived or product.derivation is None:
        raise NotReplayable(f"{product.id} is not a derived product: it has no refresh to run again")
    ports = {p.name: p for p in product.product_inputs()}
    stateful = [name for name, p in ports.items() if p.read == "increments"]
    if stateful:
        raise NotReplayable(
            f"{product.id} reads {stateful} as increments: its state comes from every refresh before, not from one"
        )
    missing = sorted(set(ports) - set(snapshots))
    if missing:
        raise NotReplayable(f"no snapshot given for the input port(s) {missing}")
    catalog = iceberg_catalog(settings)
    upstreams = {name: UpstreamTable(catalog, p.table) for name, p in ports.items()}
    inputs = Inputs(
        dict(snapshots),
        frozenset(snapshots),
        now,
        True,
        {},
        lambda port, where: upstreams[port].rows(snapshots[port], where),
    )
    kept = KeptArtifacts(artifacts)
    updates = product.derivation(Context(product.id, kept)).refresh(inputs)
    return Replayed(updates, dict(kept.kept))
