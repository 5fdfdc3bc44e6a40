"""`mesh catalog`: run the data product catalog (products register with it; it re-reads them)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.tree import Tree

from mesh_cli.run import _JsonLogs
from mesh_config import load_settings

catalog_app = typer.Typer(
    help="The data product catalog: search, domains, lineage; products register with it at start.",
    no_args_is_help=True,
    add_completion=False,
)
err_console = Console(stderr=True)
console = Console()


def no_catalog(endpoint: str, exc: Exception) -> typer.Exit:
    """Say that no catalog answers, and how to start one; the command exits with 1."""
    err_console.print(
        f"[bold red]error:[/] no catalog at {endpoint} ({exc}): start the mesh (mesh demo) or the catalog "
        "(mesh catalog run)",
        highlight=False,
    )
    return typer.Exit(1)


@catalog_app.command("run")
def run_catalog(
    port: Annotated[int | None, typer.Option(help="HTTP port (env MESH_PRODUCT_CATALOG_PORT; default 18090)")] = None,
    pull_every: Annotated[
        float | None, typer.Option(help="seconds between re-reads of every product (env MESH_PRODUCT_CATALOG_PULL_S)")
    ] = None,
) -> None:
    """Run the catalog service in the foreground until Ctrl-C or SIGTERM (started again if it dies of
    anything else)."""
    from mesh_stack.supervise import supervise

    exited = supervise("the catalog")
    if exited is not None:
        raise typer.Exit(exited)
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
        from mesh_labs.board import LabsBoard

        labs = LabsBoard(settings.labs_dir, settings.home)
        server = CatalogServer(settings, port=port, pull_every_s=pull_every, labs=labs)  # reads the governance policies
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


@catalog_app.command("lineage")
def lineage(
    node: Annotated[
        str,
        typer.Argument(
            help="a product id (urn:mesh:...), a source (kafka:<topic>, cdc:<table>), or a column "
            "(<product id>/<table>.<column>)"
        ),
    ],
) -> None:
    """What a product or a column is made from, as the running catalog knows it (declared and observed)."""
    settings = load_settings()
    column = "/" in node
    path, params = ("/lineage/columns", {"column": node}) if column else (f"/lineage/{node}", {})
    try:
        answer = httpx.get(settings.product_catalog_endpoint + path, params=params, timeout=30)
    except httpx.HTTPError as exc:
        raise no_catalog(settings.product_catalog_endpoint, exc) from None
    if answer.status_code != 200:
        err_console.print(f"[bold red]error:[/] {answer.json().get('error', answer.text)}", highlight=False)
        raise typer.Exit(1)
    data = answer.json()
    tree = Tree(f"[bold]{node}[/]")
    branches = {node: tree}
    for edge in data["upstream"]:  # nearest first: each edge's target is already in the tree
        seen = "observed" if edge.get("observed") else "declared only"
        if not edge.get("declared", True):
            seen = "[red]observed, not declared[/]"
        label = f"{edge['source']}  [dim]({seen})[/]"
        parent = branches.get(edge["target"], tree)
        branches.setdefault(edge["source"], parent.add(label))
    console.print(tree)
    if column:
        console.print(
            "enters the mesh from: " + (", ".join(data["sources"]) or "nowhere upstream (set by the product)")
        )


@catalog_app.command("check")
def check(
    folder: Annotated[Path, typer.Argument(help="a product folder, e.g. products/content-insights.genres")],
) -> None:
    """Ask the catalog what registering the product would meet, before starting it: the folder is read as
    the product would serve it, judged against the policies and the contract accepted before under its
    id, and nothing is registered. Exits 1 when the registration would be refused."""
    from rich.table import Table

    from mesh_client.registration_check import judge_folder
    from mesh_sdk.spec.errors import SpecError

    settings = load_settings()
    endpoint = settings.product_catalog_endpoint
    try:
        judged = judge_folder(settings, folder)
    except SpecError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    except httpx.HTTPStatusError as exc:
        err_console.print(f"[bold red]error:[/] the catalog answered {exc.response.status_code}: {exc.response.text}")
        raise typer.Exit(1) from None
    except httpx.HTTPError as exc:
        raise no_catalog(endpoint, exc) from None
    accepted = judged["accepted_contract"]
    console.print(
        f"{judged['product']}: "
        + (f"judged against the contract {accepted} accepted before" if accepted else "never registered before"),
        highlight=False,
    )
    table = Table("policy", "severity", "where", "problem", "fix")
    for v in judged["violations"]:
        style = "bold red" if v["severity"] == "refuse" else "yellow"
        table.add_row(v["policy"], f"[{style}]{v['severity']}[/]", v["field"], v["problem"], v["fix"] or "")
    if judged["violations"]:
        console.print(table)
    verdict = "[bold red]REFUSED[/]" if judged["refused"] else "[bold green]would be accepted[/]"
    console.print(f"registration: {verdict}", highlight=False)
    if judged["refused"]:
        raise typer.Exit(1)
