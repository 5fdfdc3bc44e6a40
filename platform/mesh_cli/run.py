"""`mesh run products/<name>`: one product, one process, every port."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mesh_config import load_settings
from mesh_sdk.spec.errors import SpecError

console = Console(stderr=True)


class _JsonLogs(logging.Formatter):
    """Structured logs: one JSON object a line, for people and for log shippers alike."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def run(
    folder: Annotated[Path, typer.Argument(help="the product's folder, e.g. products/playback.events")],
    http_port: Annotated[int, typer.Option(help="REST, GraphQL, discovery, observation, control")] = 18100,
    sql_port: Annotated[int, typer.Option(help="PostgreSQL wire protocol")] = 15433,
    batch_size: Annotated[int, typer.Option(help="most events in one micro-batch")] = 5000,
    batch_interval: Annotated[float, typer.Option(help="longest wait before a micro-batch commits, s")] = 1.0,
    control_token: Annotated[
        str | None, typer.Option(envvar="MESH_CONTROL_TOKEN", help="bearer token of the control port")
    ] = None,
) -> None:
    """Run a data product: ingest its input, serve its ports, until stopped (Ctrl-C or SIGTERM)."""
    from mesh_sdk.runtime.compose import build_runtime
    from mesh_sdk.runtime.options import RuntimeOptions
    from mesh_sdk.spec.product import load_product

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLogs())
    logging.basicConfig(level=os.environ.get("MESH_LOG_LEVEL", "INFO"), handlers=[handler], force=True)
    for chatty in ("httpx", "httpx2", "httpcore", "uvicorn.access"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        product = load_product(folder)
    except SpecError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    options = RuntimeOptions(
        http_port=http_port,
        sql_port=sql_port,
        batch_size=batch_size,
        batch_interval_s=batch_interval,
    )
    if control_token:
        options = dataclasses.replace(options, control_token=control_token)
    try:
        runtime = build_runtime(product, load_settings(), options)
        runtime.start()
    except Exception as exc:
        console.print(
            f"[bold red]error:[/] {product.id} could not start: {exc}. Is the stack up (`mesh up`)?",
            highlight=False,
        )
        raise typer.Exit(1) from None
    table = Table(title=f"{product.id} is running", show_header=False)
    for name, url in runtime.port_urls().items():
        table.add_row(name, url)
    console.print(table)
    if not control_token:
        console.print(f"control token (set MESH_CONTROL_TOKEN to choose it): {options.control_token}")

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stopping.wait()
    console.print("stopping after the current micro-batch ...")
    runtime.stop()
