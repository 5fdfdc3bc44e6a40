"""The servers a running product talks to, as the clients it holds: Kafka, the schema registry, the
Iceberg catalog, DuckDB and the artifact store. `Clients.connect(settings)` makes the real ones; a test
passes fakes to `build_runtime` instead, and the product runs with no server at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
from confluent_kafka.schema_registry import SchemaRegistryClient
from pyiceberg.catalog import Catalog

from mesh_adapters.artifacts import S3ArtifactStore
from mesh_adapters.kafka import Kafka, KafkaClients
from mesh_adapters.lakehouse import duckdb_connection, iceberg_catalog
from mesh_config import MeshSettings
from mesh_sdk.spec.logic import ArtifactStore


@dataclass(frozen=True)
class Clients:
    kafka: Kafka
    registry: Any  # confluent_kafka's SchemaRegistryClient, or anything with register_schema and get_schema
    catalog: Catalog
    duckdb: Callable[[], duckdb.DuckDBPyConnection]  # a fresh connection that can read the lakehouse
    artifacts: Callable[[str], ArtifactStore]  # a product's files under a prefix (its models)

    @classmethod
    def connect(cls, settings: MeshSettings) -> Clients:
        return cls(
            kafka=KafkaClients(settings),
            registry=SchemaRegistryClient({"url": settings.schema_registry_url}),
            catalog=iceberg_catalog(settings),
            duckdb=lambda: duckdb_connection(settings),
            artifacts=lambda prefix: S3ArtifactStore(settings, prefix),
        )
