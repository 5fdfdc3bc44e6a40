"""`mesh ml`: the ML product's models, reproduced from the data they were pinned to."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mesh_config import load_settings

ml_app = typer.Typer(
    help="The models an ML product trained: reproduce one from the snapshots it learnt from.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(1)


@ml_app.command()
def reproduce(
    version: Annotated[str, typer.Argument(help="a model version, as the product's models table lists it")],
    product: Annotated[str, typer.Option(help="the ML product's folder name")] = "recommendations.next-title",
) -> None:
    """Train the model VERSION again from what its model card pinned (each input's Iceberg snapshot,
    the hyper-parameters, the time it was trained), in this process, storing nothing; then compare the
    artifact with the one stored. Exits 1 when they differ."""
    from mesh_adapters.artifacts import S3ArtifactStore
    from mesh_sdk.derive.replay import NotReplayable, replay
    from mesh_sdk.spec.descriptor import load_descriptor

    settings = load_settings()
    folder = settings.products_dir / product
    if not (folder / "dataproduct.yaml").exists():
        raise _fail(f"no product folder {folder}")
    descriptor = load_descriptor(folder / "dataproduct.yaml")
    store = S3ArtifactStore(settings, f"{descriptor.domain}/{descriptor.name}")
    try:
        card: dict[str, Any] = json.loads(store.get(version, "card.json"))
        stored = store.get(version, "model.npz")
    except Exception as exc:
        known = ", ".join(store.versions()[-5:]) or "none"
        raise _fail(f"no model {version} of {product} ({exc}); the newest: {known}") from None
    pinned = {port: data["snapshot_id"] for port, data in card["training_data"].items()}
    trained_at = datetime.fromisoformat(card["trained_at"])
    with console.status(f"training {version} again from {pinned}"):
        try:
            again = replay(settings, folder, pinned, trained_at, store)
        except NotReplayable as exc:
            raise _fail(str(exc)) from None
        except Exception as exc:  # an input snapshot expired, a store that does not answer
            raise _fail(f"{version} could not be trained again: {exc}") from None
    artifact = again.artifacts.get((version, "model.npz"))
    if artifact is None:
        raise _fail(f"the refresh run again stored no model.npz under {version}: {sorted(again.artifacts)}")
    was, now = hashlib.sha256(stored).hexdigest(), hashlib.sha256(artifact).hexdigest()
    same = was == now == card["artifact_sha256"]
    table = Table("", "stored", "reproduced", title=f"{product} model {version}", title_justify="left")
    for port, snapshot in pinned.items():
        table.add_row(f"input {port}", f"snapshot {snapshot}", f"snapshot {snapshot}")
    table.add_row("trained at", card["trained_at"], card["trained_at"])
    table.add_row("artifact sha256", was[:16] + "…", now[:16] + "…")
    console.print(table)
    console.print("[bold green]identical[/]: the model is reproduced bit for bit" if same else "[bold red]differs[/]")
    report = settings.home / "ml" / "reproduced" / f"{version}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    outcome = {"product": product, "version": version, "pinned": pinned, "stored_sha256": was, "reproduced_sha256": now}
    report.write_text(json.dumps(outcome | {"identical": same, "at": datetime.now(UTC).isoformat()}, indent=2))
    if not same:
        raise typer.Exit(1)
