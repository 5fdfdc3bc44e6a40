"""`mesh chaos`: the fault catalogue, each fault an experiment with a verdict."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mesh_chaos.experiments import FaultError, catalogue, find_fault
from mesh_chaos.runner import run_fault, stop_fault
from mesh_config import load_settings

chaos_app = typer.Typer(
    help="Faults to inject on purpose, each with a steady-state hypothesis and a verdict.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def _say(line: str) -> None:
    console.print(f"  · {line}", highlight=False, markup=False, soft_wrap=True)


@chaos_app.command("list")
def list_faults() -> None:
    """Every fault: what it does, what it needs running, and how soon the mesh must recover."""
    try:
        faults = catalogue(load_settings().faults_dir)
    except FaultError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    table = Table("fault", "what happens", "needs", "recovers within")
    for fault in faults:
        routes = fault.through_toxiproxy
        needs = [f"{p} (to {' and '.join(routes[p])} through Toxiproxy)" if p in routes else p for p in fault.products]
        table.add_row(fault.name, fault.title, ", ".join(needs + fault.sources), f"{fault.recover_within_s:g} s")
    console.print(table)


@chaos_app.command()
def run(
    fault: Annotated[str, typer.Argument(help="a fault of `mesh chaos list`")],
    duration: Annotated[float, typer.Option(min=5, help="seconds of traffic (and of the fault, where it lasts)")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="the verdict, machine-readable")] = False,
) -> None:
    """Run a fault as an experiment: the steady state is checked, the fault injected and rolled back,
    the steady state checked again; then the verdict and what absorbed the fault. Exits 1 if the mesh
    did not recover."""
    settings = load_settings()
    try:
        chosen = find_fault(settings.faults_dir, fault)
    except FaultError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"[bold]{chosen.title}[/]\n{chosen.experiment['description']}", highlight=False)
    console.print(f"[bold]Observe meanwhile:[/] {chosen.mesh['observe']}", highlight=False)
    verdict = run_fault(settings, chosen, duration, say=_say)
    if as_json:
        sys.stdout.write(json.dumps(verdict.as_dict(), indent=2, default=str) + "\n")
    else:
        mark = "[bold green]RECOVERED[/]" if verdict.passed else "[bold red]NOT RECOVERED[/]"
        back = f"{verdict.recovered_in_s:g} s" if verdict.recovered_in_s is not None else "never"
        console.print(
            f"\n{mark}  steady state before: {verdict.before_met}, after: {verdict.after_met}, back in {back} "
            f"(bound {verdict.recover_within_s:g} s)",
            highlight=False,
        )
        for key, value in verdict.evidence.items():
            console.print(f"  {key}: {value}", highlight=False)
        for failure in verdict.failures:
            console.print(f"  [red]failed:[/] {failure}", highlight=False)
        console.print(f"\n[bold]What just happened:[/] {chosen.mesh['explanation']}", highlight=False)
    if not verdict.passed:
        raise typer.Exit(1)


@chaos_app.command()
def stop(
    fault: Annotated[str | None, typer.Argument(help="the fault to undo (default: the one in progress)")] = None,
) -> None:
    """Undo a fault that was interrupted (Ctrl-C): its rollbacks, then everything it needs up again."""
    settings = load_settings()
    marker = settings.home / "chaos" / "in-progress"
    name = fault or (marker.read_text().strip() if marker.exists() else None)
    if name is None:
        console.print("no fault in progress")
        return
    try:
        stop_fault(settings, find_fault(settings.faults_dir, name), say=_say)
    except FaultError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"{name}: rolled back")
