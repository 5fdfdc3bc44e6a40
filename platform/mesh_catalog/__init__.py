"""The central catalog of the mesh: what products there are, what they hold, where their data comes from.

Pure core, no servers and no clock (times are passed in): the entries (a product's discovery document
read into a catalog entry, `mesh_discovery.entries`, which governance reads too), `registry` (the entries
and their availability), `search`, `lineage` and `scorecard` (governance's violations, scored).

Around it, imported by name and never from here so that the core stays free of servers: `records` (the
state kept across restarts, as plain data), `service` (the use cases, behind two ports), `adapters` (HTTP
fetching, the JSON file), `api` (the REST API), `graphql_api` (the GraphQL API, which `api` mounts) and
`server` (the composition root of `mesh catalog run`)."""

from mesh_catalog.lineage import Edge, LineageGraph, Node, UnknownNode
from mesh_catalog.registry import Catalog, UnknownProduct
from mesh_catalog.search import Hit, search
from mesh_discovery.entries import (
    Availability,
    CatalogEntry,
    Column,
    ExampleQuery,
    InputPort,
    MalformedDocument,
    OutputPort,
    Owner,
    Slos,
    Status,
    parse_entry,
)

__all__ = [
    "Availability",
    "Catalog",
    "CatalogEntry",
    "Column",
    "Edge",
    "ExampleQuery",
    "Hit",
    "InputPort",
    "LineageGraph",
    "MalformedDocument",
    "Node",
    "OutputPort",
    "Owner",
    "Slos",
    "Status",
    "UnknownNode",
    "UnknownProduct",
    "parse_entry",
    "search",
]
