"""`mesh mdm`: a data steward works through customer-360's review queue. The steward is a consumer: their
key says who they are, and their grant (with PII: a steward compares names and addresses) lets them
read the queue. Their decisions go to the product's control port under their name; the product commits
each one with the golden records it changes, and its decisions stream puts it in the audit log."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from mesh_cli.ports import KeyOption, consumer_from
from mesh_client import ClientError, MeshConsumer

PRODUCT = "customers.customer-360"
ANCHORS, RECORDS = "subscriptions", "crm"  # the systems: each golden record's anchor, and the others
QUEUE = """
SELECT r.anchor, r.record, round(r.match_probability, 3) AS p,
       a.full_name AS customer_name, c.full_name AS contact_name,
       a.email AS customer_email, c.email AS contact_email,
       a.phone AS customer_phone, c.phone AS contact_phone,
       a.birth AS customer_birth, c.birth AS contact_birth
FROM customers.customer_360_reviews_v1 r
JOIN customers.customer_360_xref_v1 a ON a.source || ':' || a.source_id = r.anchor
JOIN customers.customer_360_xref_v1 c ON c.source || ':' || c.source_id = r.record
ORDER BY r.match_probability DESC, r.record
LIMIT {limit}
"""

mdm_app = typer.Typer(no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def record_key(given: str, system: str) -> str:
    """`42` or `subscriptions:42` -> `subscriptions:42` (for the anchors' system; likewise for the CRM)."""
    if ":" not in given:
        return f"{system}:{given}"
    if not given.startswith(f"{system}:"):
        raise typer.BadParameter(f"{given!r} is not a {system} record: give {system}:<id> or the id alone")
    return given


@mdm_app.command("review")
def review(
    limit: Annotated[int, typer.Option(min=1, max=500, help="how many pairs, the likeliest first")] = 20,
    key: KeyOption = None,
) -> None:
    """The pairs customer-360's model is unsure of, each customer beside the CRM contact it may be."""
    consumer = consumer_from(key)
    try:
        columns, rows = consumer.sql(PRODUCT, QUEUE.format(limit=limit))
    except ClientError as exc:
        raise _fail(str(exc)) from None
    if not rows:
        console.print("The review queue is empty: the model is sure of every pair.")
        return
    table = Table("pair", "p", "customer", "CRM contact", caption=f"{len(rows)} pair(s), the likeliest first")
    for row in rows:
        r = dict(zip(columns, row, strict=True))
        table.add_row(
            f"{r['anchor']}\n{r['record']}",
            str(r["p"]),
            "\n".join(_shown(r[f"customer_{f}"]) for f in ("name", "email", "phone", "birth")),
            "\n".join(_shown(r[f"contact_{f}"]) for f in ("name", "email", "phone", "birth")),
        )
    console.print(table)
    if any(dict(zip(columns, row, strict=True))["customer_name"] == "***" for row in rows):
        console.print(
            "[yellow]Names read ***: your grant does not include PII, and a steward compares people. Ask for "
            f"one: mesh access request {PRODUCT} --pii --purpose 'data stewardship'[/]"
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
    consumer = consumer_from(key)
    with console.status("training a new model and scoring every pair"):
        done = _command(consumer, "rematch", {})
    console.print(f"[green]✓[/] re-matched: refresh {done.get('refresh')}, rows written {done.get('committed')}")


def _decide(action: str, anchor: str, record: str, reason: str, key: str | None) -> None:
    consumer = consumer_from(key)
    pair = {"anchor": record_key(anchor, ANCHORS), "record": record_key(record, RECORDS)}
    try:
        steward = consumer.consumer
    except ClientError as exc:
        raise _fail(str(exc)) from None
    _command(consumer, action, pair | {"steward": steward, "reason": reason})
    source, source_id = pair["record"].split(":", 1)
    try:
        columns, rows = consumer.sql(
            PRODUCT,
            "SELECT golden_id, rule FROM customers.customer_360_xref_v1 "
            f"WHERE source = '{source}' AND source_id = '{source_id}'",
        )
    except ClientError as exc:
        raise _fail(f"the decision was taken, but reading it back failed: {exc}") from None
    where = dict(zip(columns, rows[0], strict=True)) if rows else {}
    console.print(
        f"[green]✓[/] {action}: {pair['anchor']} and {pair['record']} by {steward}; {pair['record']} is now in "
        f"{where.get('golden_id', '?')} ({where.get('rule', '?')})",
        highlight=False,
    )


def _command(consumer: MeshConsumer, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A command on the product's control port, with the platform's token for it."""
    from mesh_stack.products import control_token

    try:
        base = consumer.product(PRODUCT).base
        token = control_token(consumer.settings, PRODUCT)
    except (ClientError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    try:
        answer = httpx.post(
            f"{base}/control/commands/{name}",
            json=arguments,
            headers={"Authorization": f"Bearer {token}"},
            timeout=300,
        )
    except httpx.HTTPError as exc:
        raise _fail(f"{PRODUCT} does not answer at {base} ({exc}): is it running (`mesh status`)?") from None
    if answer.status_code >= 400:
        detail = (
            answer.json().get("detail", answer.text)
            if answer.headers.get("content-type", "").startswith("application/json")
            else answer.text
        )
        raise _fail(f"{PRODUCT} refused: {detail}")
    done: dict[str, Any] = answer.json()
    return done
