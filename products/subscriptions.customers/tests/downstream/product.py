"""What a downstream product keeps of each customer change it hears."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh_sdk import BatchContext


def transform(change: Mapping[str, Any], batch: BatchContext) -> Mapping[str, Any]:
    return {
        "position": change["position"],
        "customer_id": change["customer_id"],
        "op": change["op"],
    }
