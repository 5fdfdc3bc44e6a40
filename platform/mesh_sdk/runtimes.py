"""Which engine runs a product: Kafka ingestion (raw and CDC products) or derivation from other
products' lakehouse ports."""

from __future__ import annotations

from mesh_config import MeshSettings
from mesh_sdk.derived_runtime import DerivedRuntime
from mesh_sdk.product import DataProduct
from mesh_sdk.runtime import ProductRuntime, RuntimeOptions


def build_runtime(
    product: DataProduct, settings: MeshSettings, options: RuntimeOptions
) -> ProductRuntime | DerivedRuntime:
    if product.derived:
        return DerivedRuntime(product, settings, options)
    return ProductRuntime(product, settings, options)
