"""Which engine runs a product: Kafka ingestion (raw and CDC products) or derivation from other
products' lakehouse ports."""

from __future__ import annotations

from mesh_config import MeshSettings
from mesh_sdk.runtime.derived import DerivedRuntime
from mesh_sdk.runtime.options import RuntimeOptions
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sdk.spec.product import DataProduct


def build_runtime(
    product: DataProduct, settings: MeshSettings, options: RuntimeOptions
) -> SourceAlignedRuntime | DerivedRuntime:
    if product.derived:
        return DerivedRuntime(product, settings, options)
    return SourceAlignedRuntime(product, settings, options)
