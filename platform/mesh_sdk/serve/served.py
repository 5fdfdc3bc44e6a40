"""What the REST and GraphQL ports need from a running product, whichever engine feeds it (Kafka
ingestion, change data capture, or derivation from other products): the runtime's serving host
(mesh_sdk.runtime.host) is one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import pyarrow as pa
from fastapi import FastAPI

from mesh_config import MeshSettings
from mesh_sdk.access.gate import AccessGate
from mesh_sdk.access.policy import PolicyState
from mesh_sdk.observe.observations import Observer
from mesh_sdk.serve.reader import TableReader
from mesh_sdk.spec.descriptor import Descriptor
from mesh_sdk.spec.product import DataProduct
from mesh_sdk.storage.maintenance import Upkeep

# The output ports a product may declare that the serving host answers on (iceberg and kafka ports are
# written by the engine); undeclared, they are not served.
QUERY_PORTS = ("rest", "graphql", "sql")


class Served(Protocol):
    product: DataProduct
    reader: TableReader  # the main table: the one GraphQL and key lookups serve
    observer: Observer
    policy: PolicyState
    control_token: str
    upkeep: Upkeep  # what its tables keep (the snapshots port says)

    @property
    def access(self) -> AccessGate: ...

    def served_tables(self) -> dict[str, TableReader]: ...

    def discovery_extras(self) -> dict[str, Any]: ...

    def port_urls(self) -> dict[str, str]: ...

    def sql_query(
        self, sql: str, params: list[Any], as_of: str | None = None, hide: frozenset[str] = frozenset()
    ) -> pa.Table: ...

    def mount_graphql(self, app: FastAPI) -> None: ...

    def refresh_now(self) -> dict[str, Any] | None:
        """Recompute now and say what was committed (None: the product has nothing to recompute)."""
        ...

    def command(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any] | None:
        """Take a person's decision and say what was committed (None: the product takes no commands)."""
        ...


def declared_query_ports(descriptor: Descriptor) -> frozenset[str]:
    """The query ports the descriptor declares: only these are served."""
    return frozenset(p.kind for p in descriptor.output_ports if p.kind in QUERY_PORTS)


def serving_urls(
    settings: MeshSettings, http_port: int, sql_port: int, descriptor: Descriptor, main_port: str
) -> dict[str, str]:
    """The URLs a product answers on, whichever engine feeds it (discovery lists them): the query ports
    its descriptor declares, and the platform's own (observation, metrics, control, snapshots)."""
    base = f"http://{settings.host}:{http_port}"
    query = {
        "rest": {"rest": f"{base}/{main_port}"},
        "graphql": {"graphql": f"{base}/graphql"},
        "sql": {"sql": f"postgresql://{settings.host}:{sql_port}/{descriptor.domain}", "sql_http": f"{base}/sql"},
    }
    declared = declared_query_ports(descriptor)
    return {name: url for kind, urls in query.items() if kind in declared for name, url in urls.items()} | {
        "observation": f"{base}/observations",
        "metrics": f"{base}/metrics",
        "control": f"{base}/control/policy",
        "snapshots": f"{base}/snapshots",
    }
