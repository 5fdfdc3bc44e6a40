"""The data product SDK: what every product gets from the platform, so a product folder stays a
specification (descriptor, contract, queries, a little domain logic) and never plumbing.

This module is all a product's own code imports: the interface between its logic and the platform.
The parts, by the product's anatomy (docs/architecture.md has the map):

    spec      what the folder says: descriptor, contract, column types, lineage, the logic's interface
    ingest    Kafka and CDC input ports into the history table, exactly once
    derive    a product computed from other products' lakehouse ports
    storage   the product's Iceberg tables and what they keep
    serve     REST, GraphQL, SQL views, the table reader and cache, masked twins
    observe   observations, quality checks, OpenLineage
    access    the access gate, SQL logins, policies and grants at run time
    runtime   one serving host, the engine that feeds it, and the one place both are built
"""

from mesh_sdk.ingest.changes import parse_date, parse_timestamp
from mesh_sdk.spec.logic import (
    END_OF_INPUT,
    SKIP,
    ArtifactStore,
    BatchContext,
    CommandRefused,
    Context,
    Inputs,
    Rows,
    Skip,
    Transform,
    UnknownCommand,
    Update,
)

__all__ = [
    "END_OF_INPUT",
    "SKIP",
    "ArtifactStore",
    "BatchContext",
    "CommandRefused",
    "Context",
    "Inputs",
    "Rows",
    "Skip",
    "Transform",
    "UnknownCommand",
    "Update",
    "parse_date",
    "parse_timestamp",
]
