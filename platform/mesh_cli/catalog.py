"""`mesh catalog`: run the data product catalog (products register with it; it re-reads them)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Annotated

import typer
from rich.console import Console

from mesh_cli.run import _JsonLogs
from mesh_config import load_settings

catalog_app = typer.Typer(
    help="The data product catalog: search, domains, lineage; products register with it at start.",
    no_args_is_help=True,
    add_completion=False,
)
err_console = Console(stderr=True)


@catalog_app.command("run")
def run_catalog(
    port: Annotated[int | None, typer.Option(help="HTTP port (env MESH_PRODUCT_CATALOG_PORT; default 18090)")] = None,
    pull_every: Annotated[
        float | None, typer.Option(help="seconds between re-reads of every product (env MESH_PRODUCT_CATALOG_PULL_S)")
    ] = None,
) -> None:
    """Run the catalog service in the foreground until Ctrl-C or SIGTERM."""
    from mesh_catalog.records import UnreadableState
    from mesh_catalog.server import CatalogServer, state_path
    from mesh_governance import PolicyError

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLogs())
    logging.basicConfig(level=os.environ.get("MESH_LOG_LEVEL", "INFO"), handlers=[handler], force=True)
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    settings = load_settings()
    try:
        server = CatalogServer(settings, port=port, pull_every_s=pull_every)  # reads the governance policies
        server.start()
    except (UnreadableState, PolicyError, OSError, RuntimeError) as exc:
        err_console.print(f"[bold red]error:[/] the catalog could not start: {exc}", highlight=False)
        raise typer.Exit(1) from None
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: server.stopping.set())
    err_console.print(
        f"catalog running: {server.url} (registrations in {state_path(settings)}, "
        f"pull every {server.pull_every_s:g} s)",
        highlight=False,
        soft_wrap=True,
    )
    server.wait()
    server.stop()
