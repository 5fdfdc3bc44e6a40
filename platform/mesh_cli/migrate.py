"""`mesh migrate subscriptions`: peel the subscriptions service off the legacy monolith, a share of the
customers at a time (the strangler fig; mesh_sources.strangler). Writes keep flowing through the
routing facade (`mesh generate legacy` uses it once a migration has started), and
subscriptions.subscriptions keeps serving the same contract from both systems."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from mesh_config import load_settings
from mesh_sources.db import SourceUnavailable
from mesh_sources.strangler import Migration, MigrationRefused, MigrationStatus
from mesh_sources.strangler_routes import BUCKETS, MONOLITH, SERVICE, buckets_to_move

migrate_app = typer.Typer(no_args_is_help=True)
subscriptions_app = typer.Typer(no_args_is_help=True)
migrate_app.add_typer(
    subscriptions_app, name="subscriptions", help="Move subscriptions from the monolith to the subscriptions service."
)
console = Console()
err_console = Console(stderr=True)


@contextmanager
def _migration() -> Iterator[Migration]:
    try:
        migration = Migration(load_settings())
    except (SourceUnavailable, psycopg.OperationalError) as exc:
        err_console.print(
            f"[bold red]error:[/] {exc}\nThe monolith and the service must be running: mesh up, then mesh cdc start",
            highlight=False,
        )
        raise typer.Exit(1) from None
    try:
        yield migration
    except MigrationRefused as exc:
        err_console.print(f"[bold red]refused:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        migration.close()


def _show(status: MigrationStatus) -> None:
    table = Table("phase", "customers on the service", "subscriptions in the monolith", "in the service")
    table.add_row(
        status.phase,
        f"{status.percent} % ({len(status.routes.owned_by(SERVICE))} of {BUCKETS} buckets)",
        str(status.subscriptions[MONOLITH]),
        str(status.subscriptions[SERVICE]),
    )
    console.print(table)
    bar = "█" * (status.percent // 2) + "░" * (50 - status.percent // 2)
    console.print(f"monolith {bar} service")
    if status.pending:
        console.print(
            f"[yellow]{len(status.pending)} move(s) a crash left half done; the next command finishes them[/]"
        )


def _moving(total: int, to: str) -> tuple[Progress, Callable[[int, int], None]]:
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console)
    task = progress.add_task(f"buckets to the {to}", total=total)
    moved = 0

    def on_bucket(bucket: int, subscriptions: int) -> None:
        nonlocal moved
        moved += subscriptions
        progress.update(task, advance=1, description=f"buckets to the {to} ({moved} subscriptions)")

    return progress, on_bucket


@subscriptions_app.command("start")
def start() -> None:
    """Begin: the service's routes exist, every customer still on the monolith, writes go through the facade."""
    with _migration() as migration:
        _show(migration.start())
    console.print(
        "Restart `mesh generate legacy` if it runs: from now on it writes through the routing facade.\n"
        "Next: mesh migrate subscriptions step 10"
    )


@subscriptions_app.command("step")
def step(
    percent: Annotated[int, typer.Argument(min=0, max=100, help="share of customers the service owns afterwards")],
) -> None:
    """Move customers (a hundredth at a time) to the service until it owns PERCENT % of them."""
    with _migration() as migration:
        todo = buckets_to_move(migration.status().routes, percent)
        progress, on_bucket = _moving(len(todo), "service")
        with progress:
            status = migration.step(percent, on_bucket)
        _show(status)


@subscriptions_app.command("status")
def status() -> None:
    """Who owns how many customers and subscriptions, and the migration's phase."""
    with _migration() as migration:
        migration.recover()
        _show(migration.status())


@subscriptions_app.command("finish")
def finish() -> None:
    """Close the migration once the service owns every customer: the monolith's input is retired."""
    with _migration() as migration:
        _show(migration.finish())
    console.print("The monolith owns no subscription any more; subscriptions.subscriptions retires its input.")


@subscriptions_app.command("rollback")
def rollback() -> None:
    """Move every customer back to the monolith (not after finish)."""
    with _migration() as migration:
        progress, on_bucket = _moving(len(migration.status().routes.owned_by(SERVICE)), "monolith")
        with progress:
            status = migration.rollback(on_bucket)
        _show(status)
