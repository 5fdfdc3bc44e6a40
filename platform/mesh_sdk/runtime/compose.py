"""The composition root: the one place a product's runtime is built, from its folder, the settings, how
the process runs and the clients of the servers (the real ones unless a test passes fakes). Which
engine feeds it follows from the descriptor: Kafka ingestion (raw and CDC products) or derivation from
other products' lakehouse ports."""

from __future__ import annotations

from mesh_config import MeshSettings
from mesh_sdk.runtime.clients import Clients
from mesh_sdk.runtime.derived import DerivedRuntime
from mesh_sdk.runtime.options import RuntimeOptions
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sdk.spec.product import DataProduct


def build_runtime(
    product: DataProduct, settings: MeshSettings, options: RuntimeOptions, clients: Clients | None = None
) -> SourceAlignedRuntime | DerivedRuntime:
    clients = clients or Clients.connect(settings)
    if product.derived:
        return DerivedRuntime(product, settings, options, clients)
    return SourceAlignedRuntime(product, settings, options, clients)
