"""`mesh cdc`: capture the operational databases' changes (Debezium on the Kafka Connect worker)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mesh_adapters.connect import ConnectClient, ConnectError
from mesh_config import MeshSettings, load_settings
from mesh_sources.capture import SOURCES, CaptureSource, remove_source, slot_active, start_source
from mesh_sources.db import SourceUnavailable

cdc_app = typer.Typer(no_args_is_help=True)
console = Console()
_BY_NAME = {s.name: s for s in SOURCES}


def _sources(name: str) -> list[CaptureSource]:
    if name == "all":
        return list(SOURCES)
    if name not in _BY_NAME:
        raise typer.BadParameter(f"unknown source {name!r}: choose {', '.join(_BY_NAME)} or all")
    return [_BY_NAME[name]]


def start_capture(settings: MeshSettings, sources: list[CaptureSource], customers: int, titles: int) -> None:
    """Install and seed each database (once), then its connector; idempotent."""
    from mesh_sources.installers import installers

    install = installers(settings, customers=customers, titles=titles)
    for source in sources:
        with console.status(f"capturing {source.name}: database, publication, connector"):
            start_source(source, settings, install.get(source.name))
        console.print(f"[green]✓[/] {source.name}: {source.connector} running → {', '.join(source.topics())}")


@cdc_app.command("start")
def start(
    source: Annotated[str, typer.Argument(help="legacy, content, crm, subscriptions or all")] = "all",
    customers: Annotated[int, typer.Option(help="customers seeded in a new legacy database")] = 10_000,
    titles: Annotated[int, typer.Option(help="titles seeded in a new content database")] = 500,
) -> None:
    """Create the databases' schemas and seed data (first time only) and start capturing their changes."""
    try:
        start_capture(load_settings(), _sources(source), customers, titles)
    except (ConnectError, SourceUnavailable, TimeoutError, OSError) as exc:
        console.print(f"[red]✗[/] {exc}")
        raise typer.Exit(1) from None


@cdc_app.command("status")
def status() -> None:
    """Each source's connector, its tasks and its replication slot."""
    settings = load_settings()
    table = Table("source", "connector", "state", "tasks", "slot", "topics")
    try:
        with ConnectClient(settings.kafka_connect_url) as connect:
            for source in SOURCES:
                st = connect.status(source.connector)
                try:
                    active = slot_active(source, settings)
                    slot = "none" if active is None else ("active" if active else "idle (holds WAL)")
                except OSError as exc:
                    slot = f"unknown ({exc})"
                table.add_row(
                    source.name, source.connector, st.state, ",".join(st.tasks) or "-", slot, "\n".join(source.topics())
                )
    except ConnectError as exc:
        console.print(f"[red]✗[/] {exc}")
        raise typer.Exit(1) from None
    console.print(table)


@cdc_app.command("restart")
def restart(source: Annotated[str, typer.Argument(help="legacy, content, crm, subscriptions or all")] = "all") -> None:
    """Restart connectors and their tasks (no change is lost: they resume from their offsets)."""
    settings = load_settings()
    with ConnectClient(settings.kafka_connect_url) as connect:
        for s in _sources(source):
            connect.restart(s.connector)
            connect.wait_running(s.connector)
            console.print(f"[green]✓[/] {s.connector} restarted")


@cdc_app.command("remove")
def remove(source: Annotated[str, typer.Argument(help="legacy, content, crm, subscriptions or all")]) -> None:
    """Stop capturing: delete the connector, drop its replication slot and publication (topics stay)."""
    settings = load_settings()
    for s in _sources(source):
        remove_source(s, settings)
        console.print(f"[green]✓[/] {s.name}: connector, replication slot and publication removed")


@cdc_app.command("sql")
def sql(
    source: Annotated[str, typer.Argument(help="legacy, content or crm")],
    statement: Annotated[str | None, typer.Argument(help="SQL, run as the database's own application would")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="a script of statements instead (a team's migration)")
    ] = None,
) -> None:
    """Run a statement in an operational database, as the team that owns it would (its console; psql
    works too). A change is captured like any other: follow it with `mesh audit history KEY`."""
    import psycopg

    if (statement is None) == (file is None):
        console.print("[red]✗[/] give a statement or --file SCRIPT, one of them", highlight=False)
        raise typer.Exit(2)
    if file is not None:
        try:
            statement = file.read_text()
        except OSError as exc:
            console.print(f"[red]✗[/] cannot read {file}: {exc.strerror}", highlight=False)
            raise typer.Exit(2) from None
    assert statement is not None
    settings = load_settings()
    database = getattr(settings, _sources(source)[0].database_setting)
    try:
        with psycopg.connect(settings.postgres_dsn(database), autocommit=True) as conn:
            cursor = conn.execute(statement.encode())
            if cursor.description:
                table = Table(*[c.name for c in cursor.description])
                for row in cursor.fetchall():
                    table.add_row(*("∅" if v is None else str(v) for v in row))
                console.print(table)
            else:
                console.print(f"{cursor.statusmessage} in {database}", highlight=False)
    except psycopg.Error as exc:
        console.print(f"[red]✗[/] {str(exc).strip()}", highlight=False)
        raise typer.Exit(1) from None
