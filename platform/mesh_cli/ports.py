"""`mesh query` and `mesh consume`: a consumer reads a product's SQL port and its streams with its own
key (MESH_API_KEY), so psql and kcat are alternatives, never requirements."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mesh_client import ClientError, MeshConsumer
from mesh_config import load_settings

console = Console()
err_console = Console(stderr=True)

KeyOption = Annotated[str | None, typer.Option("--key", help="your API key (default: $MESH_API_KEY)")]


def consumer_from(key: str | None) -> MeshConsumer:
    found = key or os.environ.get("MESH_API_KEY")
    if not found:
        err_console.print(
            "[bold red]error:[/] no API key: export MESH_API_KEY=... (mesh demo prints one; "
            "`cat .mesh/access/demo-analyst.key`) or pass --key",
            highlight=False,
        )
        raise typer.Exit(1)
    return MeshConsumer(load_settings(), found)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def query(
    product: Annotated[str, typer.Argument(help="a product: playback.events, or its id urn:mesh:...")],
    statement: Annotated[str, typer.Argument(help="SQL, as on the product's PostgreSQL port")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per row")] = False,
    key: KeyOption = None,
) -> None:
    """Run SQL on a product's own SQL port, as you (your key is the password): what your grants allow,
    PII masked unless a grant includes it, and recorded in the audit log like any other read."""
    try:
        columns, rows = consumer_from(key).sql(product, statement)
    except ClientError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if as_json:
        for row in rows:
            typer.echo(json.dumps({c: _plain(v) for c, v in zip(columns, row, strict=True)}))
        return
    table = Table(*columns, caption=f"{len(rows)} row{'s' if len(rows) != 1 else ''}")
    for row in rows:
        table.add_row(*("∅" if v is None else str(_plain(v)) for v in row))
    console.print(table)


def consume(
    topic: Annotated[str, typer.Argument(help="a stream, e.g. playback.events.stream.v1")],
    limit: Annotated[int, typer.Option("--max", "-n", min=1, help="stop after this many records")] = 10,
    timeout: Annotated[float, typer.Option(help="stop when nothing arrives for this many seconds")] = 10.0,
    from_beginning: Annotated[bool, typer.Option(help="from the start of the stream, or only new records")] = True,
    group: Annotated[
        str | None, typer.Option(help="your consumer group's name after '<you>.' (default: a new one)")
    ] = None,
    key: KeyOption = None,
) -> None:
    """Read a stream with your own Kafka identity (your consumer id, your key), decoded through the
    schema registry, one JSON record per line. Your group's committed offsets tell the platform (and
    the audit log) what you read."""
    try:
        for record in consumer_from(key).consume(
            topic, limit=limit, timeout_s=timeout, from_beginning=from_beginning, group=group
        ):
            value = {k: _plain(v) for k, v in (record.value or {}).items()}
            typer.echo(
                json.dumps({"partition": record.partition, "offset": record.offset, "key": record.key, "value": value})
            )
    except ClientError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
