"""`mesh mdm`: a data steward works through customer-360's review queue. The steward is a consumer: their
key says who they are, and their grant (with PII: a steward compares names and addresses) lets them
read the queue. Their decisions go to the product's control port under their name; the product commits
each one with the golden records it changes, and its decisions stream puts it in the audit log."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mesh_cli.ports import KeyOption, consumer_from
from mesh_client import ClientError
from mesh_client.stewardship import ASK_FOR_PII, MASKED, Steward

mdm_app = typer.Typer(no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@mdm_app.command("review")
def review(
    limit: Annotated[int, typer.Option(min=1, max=500, help="how many pairs, the likeliest first")] = 20,
    key: KeyOption = None,
) -> None:
    """The pairs customer-360's model is unsure of, each customer beside the CRM contact it may be."""
    try:
        pairs = Steward(consumer_from(key)).queue(limit)
    except ClientError as exc:
        raise _fail(str(exc)) from None
    if not pairs:
        console.print("The review queue is empty: the model is sure of every pair.")
        return
    table = Table("pair", "p", "customer", "CRM contact", caption=f"{len(pairs)} pair(s), the likeliest first")
    for r in pairs:
        table.add_row(
            f"{r['anchor']}\n{r['record']}",
            str(r["p"]),
            "\n".join(_shown(r[f"customer_{f}"]) for f in ("name", "email", "phone", "birth")),
            "\n".join(_shown(r[f"contact_{f}"]) for f in ("name", "email", "phone", "birth")),
        )
    console.print(table)
    if any(r["customer_name"] == MASKED for r in pairs):
        console.print(
            f"[yellow]Names read ***: your grant does not include PII. A steward compares people: {ASK_FOR_PII}[/]"
        )
    console.print("Decide: mesh mdm match ANCHOR RECORD --reason '...'  |  mesh mdm split ANCHOR RECORD --reason '...'")


def _shown(value: Any) -> str:
    return "∅" if value is None else str(value)


@mdm_app.command("match")
def match(
    anchor: Annotated[str, typer.Argument(help="the customer: subscriptions:<id> or the id")],
    record: Annotated[str, typer.Argument(help="the CRM contact: crm:<id> or the id")],
    reason: Annotated[str, typer.Option(help="why they are the same person")] = "",
    key: KeyOption = None,
) -> None:
    """They are the same person: link them, whatever the model says (until a later decision)."""
    _decide("match", anchor, record, reason, key)


@mdm_app.command("split")
def split(
    anchor: Annotated[str, typer.Argument(help="the customer: subscriptions:<id> or the id")],
    record: Annotated[str, typer.Argument(help="the CRM contact: crm:<id> or the id")],
    reason: Annotated[str, typer.Option(help="why they are not the same person")] = "",
    key: KeyOption = None,
) -> None:
    """They are not the same person: never link them (until a later decision)."""
    _decide("split", anchor, record, reason, key)


@mdm_app.command("rematch")
def rematch(key: KeyOption = None) -> None:
    """Train a new matching model on the records as they are and score every pair again; the stewards'
    decisions hold."""
    try:
        with console.status("training a new model and scoring every pair"):
            done = Steward(consumer_from(key)).rematch()
    except ClientError as exc:
        raise _fail(str(exc)) from None
    console.print(f"[green]✓[/] re-matched: refresh {done.get('refresh')}, rows written {done.get('committed')}")


def _decide(action: str, anchor: str, record: str, reason: str, key: str | None) -> None:
    steward = Steward(consumer_from(key))
    try:
        now = steward.decide(action, anchor, record, reason)
    except ValueError as exc:  # a record named for the wrong system
        raise typer.BadParameter(str(exc)) from None
    except ClientError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"[green]✓[/] {action} by {steward.consumer.consumer}: {now['source']}:{now['source_id']} is now in "
        f"{now['golden_id']} ({now['rule']})",
        highlight=False,
    )
