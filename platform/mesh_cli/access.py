"""`mesh access`: consumer identities, access requests and the owners' decisions, at the catalog.

Who you are comes from `MESH_API_KEY` (or --key): the key a consumer was issued. Creating identities
uses the platform's token, which the local catalog keeps under the mesh's home."""

from __future__ import annotations

import os
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from mesh_access.platform_token import platform_token
from mesh_cli.catalog import no_catalog
from mesh_config import load_settings

access_app = typer.Typer(
    help="Who may read which product: identities, requests, approvals, grants.",
    no_args_is_help=True,
    add_completion=False,
)
consumer_app = typer.Typer(help="Consumer identities.", no_args_is_help=True, add_completion=False)
key_app = typer.Typer(help="API keys: rotate, revoke.", no_args_is_help=True, add_completion=False)
access_app.add_typer(consumer_app, name="consumer")
access_app.add_typer(key_app, name="key")
console = Console()
err_console = Console(stderr=True)

KeyOption = Annotated[str | None, typer.Option("--key", help="your API key (default: $MESH_API_KEY)")]


def _call(method: str, path: str, token: str | None, body: dict[str, Any] | None = None, **params: Any) -> Any:
    settings = load_settings()
    url = settings.product_catalog_endpoint + path
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        answer = httpx.request(method, url, json=body, params=params or None, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise no_catalog(settings.product_catalog_endpoint, exc) from None
    if answer.status_code >= 400:
        try:
            problem = answer.json().get("error", answer.text)
        except ValueError:
            problem = answer.text
        err_console.print(f"[bold red]error:[/] {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    return answer.json()


def _own_key(key: str | None) -> str:
    found = key or os.environ.get("MESH_API_KEY")
    if not found:
        err_console.print("[bold red]error:[/] no API key: set MESH_API_KEY or pass --key", highlight=False)
        raise typer.Exit(1)
    return found


def _platform() -> str:
    token = platform_token(load_settings(), create=False)
    if token is None:
        err_console.print(
            "[bold red]error:[/] no platform token here: set MESH_PLATFORM_TOKEN, or run this where the catalog runs",
            highlight=False,
        )
        raise typer.Exit(1)
    return token


def _print_request(r: dict[str, Any]) -> None:
    pii = "with PII" if r["pii"] else "PII masked"
    console.print(
        f"{r['id']}  {r['status']}  {r['consumer']} → {r['product']}  ({pii})  purpose: {r['purpose']}"
        + (f"  by {r['decided_by']}" if r.get("decided_by") else ""),
        highlight=False,
        soft_wrap=True,
    )


@consumer_app.command("create")
def create_consumer(
    consumer_id: Annotated[str, typer.Argument(help="e.g. churn-analytics")],
    team: Annotated[str, typer.Option(help="the team it belongs to (owners approve by team)")],
    contact: Annotated[str, typer.Option(help="an e-mail or chat channel")] = "",
) -> None:
    """A new consumer identity and its first API key (shown once). Needs the platform token."""
    made = _call("POST", "/access/consumers", _platform(), {"id": consumer_id, "team": team, "contact": contact})
    console.print(f"consumer {made['consumer']} ({made['team']}) created. Its API key, shown once:")
    console.print(made["api_key"], highlight=False, soft_wrap=True)
    console.print(f"[dim]export MESH_API_KEY={made['api_key']}[/]", highlight=False, soft_wrap=True)


@consumer_app.command("list")
def list_consumers() -> None:
    """Every consumer, its keys' states and grants."""
    table = Table("consumer", "team", "keys", "grants")
    for c in _call("GET", "/access/consumers", None):
        keys = ", ".join(f"{k['id']} ({k['state']})" for k in c["keys"])
        table.add_row(c["id"], c["team"], keys, ", ".join(c["grants"]) or "-")
    console.print(table)


@key_app.command("rotate")
def rotate(
    consumer_id: Annotated[str | None, typer.Argument(help="whose key (default: the holder of --key)")] = None,
    grace: Annotated[float, typer.Option(help="seconds the replaced keys keep working")] = 0,
    key: KeyOption = None,
) -> None:
    """A new API key; the consumer's other keys stop working after --grace seconds."""
    if consumer_id is None:
        token = _own_key(key)
        consumer_id = _call("GET", "/access/whoami", token)["consumer"]
    else:
        token = key or os.environ.get("MESH_API_KEY") or _platform()
    made = _call("POST", f"/access/consumers/{consumer_id}/keys", token, {"grace_seconds": grace})
    replaced = ", ".join(made["replaced"]) or "none"
    console.print(f"new key for {consumer_id} (replaces {replaced}, grace {grace:g} s), shown once:")
    console.print(made["api_key"], highlight=False, soft_wrap=True)


@key_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="the key's id (mk_<id>_...), from mesh access consumer list")],
    key: KeyOption = None,
) -> None:
    """Revoke a key on every port at once (your own key, or any with the platform token)."""
    token = key or os.environ.get("MESH_API_KEY") or _platform()
    revoked = _call("DELETE", f"/access/keys/{key_id}", token)
    console.print(f"key {revoked['id']} of {revoked['consumer']} revoked at {revoked['revoked_at']}")


@access_app.command("whoami")
def whoami(key: KeyOption = None) -> None:
    """The consumer your key proves, and its grants."""
    me = _call("GET", "/access/whoami", _own_key(key))
    console.print(f"{me['consumer']} ({me['team']})")
    for grant in me["grants"]:
        _print_request(grant)


@access_app.command("lakehouse")
def lakehouse(key: KeyOption = None) -> None:
    """S3 credentials to read your granted products' Iceberg tables directly (shown once)."""
    made = _call("POST", "/access/lakehouse-credentials", _own_key(key))
    settings = load_settings()
    console.print(f"S3 credentials of {made['consumer']} ({made['shown']}):")
    console.print(
        f"export AWS_ACCESS_KEY_ID={made['access_key']} AWS_SECRET_ACCESS_KEY={made['secret_key']} "
        f"AWS_ENDPOINT_URL={settings.s3_url}",
        highlight=False,
        soft_wrap=True,
    )
    for table in made["tables"]:
        console.print(f"  may read {table}", highlight=False)


@access_app.command("request")
def request(
    product: Annotated[str, typer.Argument(help="a product id, or its folder name (subscriptions.customers)")],
    purpose: Annotated[str, typer.Option(help="what the data is for: the owners decide on it")],
    pii: Annotated[bool, typer.Option("--pii", help="ask for personal data too (otherwise masked)")] = False,
    key: KeyOption = None,
) -> None:
    """Ask a product's owning team for access, for one purpose."""
    made = _call("POST", "/access/requests", _own_key(key), {"product": product, "purpose": purpose, "pii": pii})
    _print_request(made)
    console.print(f"[dim]the owners approve it with: mesh access approve {made['id']}[/]")


def _decide(verb: str, request_id: str, note: str, key: str | None) -> None:
    _print_request(_call("POST", f"/access/requests/{request_id}/{verb}", _own_key(key), {"note": note}))


@access_app.command("approve")
def approve(request_id: str, note: Annotated[str, typer.Option()] = "", key: KeyOption = None) -> None:
    """Grant a request (a member of the product's owning team)."""
    _decide("approve", request_id, note, key)


@access_app.command("deny")
def deny(request_id: str, note: Annotated[str, typer.Option()] = "", key: KeyOption = None) -> None:
    """Refuse a request (a member of the product's owning team)."""
    _decide("deny", request_id, note, key)


@access_app.command("revoke")
def revoke(request_id: str, note: Annotated[str, typer.Option()] = "", key: KeyOption = None) -> None:
    """Withdraw a grant (its owners), or give it up (its holder)."""
    _decide("revoke", request_id, note, key)


@access_app.command("requests")
def requests(
    status: Annotated[str | None, typer.Option(help="pending, approved, denied or revoked")] = None,
) -> None:
    """Access requests and their decisions."""
    filters: dict[str, Any] = {"status": status} if status else {}
    for r in _call("GET", "/access/requests", None, **filters):
        _print_request(r)
