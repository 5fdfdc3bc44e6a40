"""Which engine runs a product: Kafka ingestion (raw and CDC products) or derivation from other
products' lakehouse ports."""

from __future__ import annotations

from mesh_config import MeshSettings
from mesh_sdk.runtime.derived import DerivedRuntime
from mesh_sdk.runtime.options import RuntimeOptions
from mesh_sdk.runtime.source_aligned import ProductRuntime
from mesh_sdk.spec.product import DataProduct


def build_runtime(
    product: DataProduct, settings: MeshSettings, options: RuntimeOptions
) -> ProductRuntime | DerivedRuntime:
    if product.derived:
        return DerivedRuntime(product, settings, options)
    return ProductRuntime(product, settings, options)
