"""Copy-paste examples for each of a product's ports (REST, GraphQL, SQL, Kafka), built from what its
discovery document says it serves. Pure: a catalog entry in, commands out."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mesh_discovery.entries import CatalogEntry


@dataclass(frozen=True)
class Example:
    port: str  # REST | GraphQL | SQL | Kafka
    title: str
    command: str


def examples(entry: CatalogEntry, registry_url: str | None = None) -> list[Example]:
    ports = _ports(entry)
    out: list[Example] = []
    rest = ports.get("rest")
    if rest:
        out.append(Example("REST", "the newest rows", f"curl {shlex.quote(rest + '?limit=5')}"))
        out.append(Example("REST", "as of a snapshot", f"curl {shlex.quote(rest + '?limit=5&as_of=<snapshot id>')}"))
    graphql = ports.get("graphql")
    if graphql:
        query = _first_graphql(entry) or "{ __schema { queryType { fields { name description } } } }"
        body = json.dumps({"query": " ".join(query.split())})
        out.append(
            Example(
                "GraphQL",
                "a query (GraphiQL opens at the same URL in a browser)",
                f"curl -H 'Content-Type: application/json' {shlex.quote(graphql)} -d {shlex.quote(body)}",
            )
        )
    sql = ports.get("sql")
    table = _main_table(entry, ports)
    if sql and table:
        parts = urlsplit(sql)
        statement = f"SELECT * FROM {table} LIMIT 5"
        out.append(
            Example(
                "SQL",
                "over the PostgreSQL wire protocol (read-only)",
                f"psql -h {parts.hostname} -p {parts.port} -d {parts.path.lstrip('/')} -c {shlex.quote(statement)}",
            )
        )
    sql_http = ports.get("sql_http")
    if sql_http and table:
        body = json.dumps({"sql": f"SELECT count(*) AS n FROM {table}"})
        out.append(
            Example(
                "SQL",
                "over HTTP",
                f"curl -H 'Content-Type: application/json' {shlex.quote(sql_http)} -d {shlex.quote(body)}",
            )
        )
    for name, url in sorted(ports.items()):
        if not (name == "stream" or name.startswith("stream_")) or not url.startswith("kafka://"):
            continue
        bootstrap, _, topic = url.removeprefix("kafka://").partition("/")
        registry = f" -r {shlex.quote(registry_url)}" if registry_url else " -r <schema registry URL>"
        out.append(
            Example(
                "Kafka",
                f"the change stream {topic} (Avro, schema in the registry)",
                f"kcat -C -b {bootstrap} -t {topic} -s value=avro{registry} -o end",
            )
        )
    return out


def _ports(entry: CatalogEntry) -> dict[str, str]:
    ports = entry.document.get("ports")
    if not isinstance(ports, dict):
        return {}
    return {str(k): v for k, v in ports.items() if isinstance(v, str)}


def _main_table(entry: CatalogEntry, ports: dict[str, str]) -> str | None:
    """The served table's qualified name: the `iceberg` port ("<table> in catalog <name>"), or the first
    of a derived product's `iceberg_<port>` ports."""
    for name in ["iceberg", *sorted(n for n in ports if n.startswith("iceberg_"))]:
        if name in ports:
            return ports[name].split(" ", 1)[0]
    return None


def _first_graphql(entry: CatalogEntry) -> str | None:
    for query in entry.document.get("queries") or []:
        if isinstance(query, dict) and query.get("language") == "graphql" and isinstance(query.get("text"), str):
            lines = [line for line in query["text"].splitlines() if not line.lstrip().startswith("#")]
            return "\n".join(lines).strip() or None
    return None


def query_text(entry: CatalogEntry, name: str) -> str | None:
    for query in entry.document.get("queries") or []:
        if isinstance(query, dict) and query.get("name") == name:
            text: Any = query.get("text")
            return text if isinstance(text, str) else None
    return None
