"""What the REST and GraphQL ports need from a running product, whichever engine feeds it (Kafka
ingestion, change data capture, or derivation from other products)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
from fastapi import FastAPI

from mesh_config import MeshSettings
from mesh_sdk.access.policy import PolicyState
from mesh_sdk.observe.observations import Observer
from mesh_sdk.runtime.ports import PortThreads
from mesh_sdk.serve.reader import HistoryReader
from mesh_sdk.spec.product import DataProduct
from mesh_sdk.storage.maintenance import Upkeep

if TYPE_CHECKING:
    from mesh_sdk.runtime.options import RuntimeOptions


class Served(Protocol):
    product: DataProduct
    reader: HistoryReader  # the main table: the one GraphQL and key lookups serve
    observer: Observer
    policy: PolicyState
    control_token: str
    options: RuntimeOptions
    ports: PortThreads
    upkeep: Upkeep  # what its tables keep (the snapshots port says)

    def served_tables(self) -> dict[str, HistoryReader]: ...

    def discovery_extras(self) -> dict[str, Any]: ...

    def port_urls(self) -> dict[str, str]: ...

    def sql_query(
        self, sql: str, params: list[Any], as_of: str | None = None, hide: frozenset[str] = frozenset()
    ) -> pa.Table: ...

    def mount_graphql(self, app: FastAPI) -> None: ...

    def refresh_now(self) -> dict[str, Any] | None:
        """Recompute now and say what was committed (None: the product has nothing to recompute)."""
        ...


def serving_urls(settings: MeshSettings, options: RuntimeOptions, domain: str, main_port: str) -> dict[str, str]:
    """The URLs every product's ports answer on, whichever engine feeds it (discovery lists them)."""
    base = f"http://{settings.host}:{options.http_port}"
    return {
        "rest": f"{base}/{main_port}",
        "graphql": f"{base}/graphql",
        "sql": f"postgresql://{settings.host}:{options.sql_port}/{domain}",
        "sql_http": f"{base}/sql",
        "observation": f"{base}/observations",
        "metrics": f"{base}/metrics",
        "control": f"{base}/control/policy",
        "snapshots": f"{base}/snapshots",
    }
