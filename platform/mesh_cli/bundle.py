"""`mesh bundle`: the offline bundle a room installs from, instead of the conference Wi-Fi."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from mesh_config import load_settings
from mesh_stack.bundle.manifest import PARTS, BundleError
from mesh_stack.bundle.transfer import export_bundle, import_bundle
from mesh_stack.errors import StackError

bundle_app = typer.Typer(
    help="Every wheel, jar and system package the labs need, in one folder (a USB stick).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

Parts = Annotated[
    str | None,
    typer.Option("--parts", help=f"a comma-separated subset of {','.join(PARTS)} (default: every part)"),
]


class _RichProgress:
    """Lines for each step; a byte bar (size, speed, time left) for the long checksum passes."""

    def say(self, line: str) -> None:
        console.print(f"  · {line}", highlight=False, markup=False, soft_wrap=True)

    @contextmanager
    def bytes(self, what: str, total: int) -> Iterator[Callable[[int], None]]:
        columns = (
            TextColumn(f"  {what}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(what, total=total)
            yield lambda n: progress.advance(task, n)


def _parts(value: str | None) -> list[str] | None:
    return None if value is None else [p.strip() for p in value.split(",") if p.strip()]


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@bundle_app.command("export")
def export(
    folder: Annotated[Path, typer.Argument(help="where to write the bundle (created; a USB stick's folder)")],
    parts: Parts = None,
    newest: Annotated[
        bool,
        typer.Option("--newest", help="the newest wheels pyproject.toml allows, not this virtualenv's versions"),
    ] = False,
) -> None:
    """Write the bundle: the project's wheels for this platform and Python, of the versions this
    virtualenv has (pip downloads only those missing), the JVM artifacts from the download cache (Maven
    resolves those missing), and on Debian the Java runtime and Chromium with their dependencies; then
    bundle.json with every file's SHA-256."""
    began = time.monotonic()
    try:
        manifest = export_bundle(load_settings(), folder, _parts(parts), _RichProgress(), newest=newest)
    except (BundleError, StackError) as exc:
        raise _fail(exc) from None
    console.print(
        f"bundle written to {folder}: {', '.join(manifest.parts())}; {len(manifest.files)} files, "
        f"{manifest.size() / 2**20:.0f} MB, for {manifest.platform.describe()}, in {time.monotonic() - began:.0f} s",
        highlight=False,
    )
    console.print(f"on each laptop: make setup MESH_BUNDLE={folder}", highlight=False)


@bundle_app.command("import")
def import_(
    folder: Annotated[Path, typer.Argument(help="a bundle written by `mesh bundle export`")],
    parts: Parts = None,
    no_system: Annotated[
        bool, typer.Option("--no-system", help="leave the Java runtime and Chromium alone (checked all the same)")
    ] = False,
) -> None:
    """Check every file of the bundle against its manifest and its platform against this machine, then
    unpack the JVM artifacts into the download cache and install a missing Java runtime or Chromium
    from it (as root). `make setup MESH_BUNDLE=DIR` runs this after installing the wheels."""
    settings = load_settings()
    began = time.monotonic()
    try:
        report = import_bundle(settings, folder, _parts(parts), _RichProgress(), system_packages=not no_system)
    except (BundleError, StackError) as exc:
        raise _fail(exc) from None
    manifest = report.manifest
    console.print(
        f"bundle {folder} is whole ({len(manifest.files)} files, {manifest.size() / 2**20:.0f} MB, "
        f"for {manifest.platform.describe()}): checked and imported in {time.monotonic() - began:.0f} s",
        highlight=False,
    )
    if report.installed or report.already:
        console.print(
            f"JVM artifacts in {settings.cache_dir}: unpacked {', '.join(report.installed) or 'none'}; "
            f"already there {', '.join(report.already) or 'none'}",
            highlight=False,
        )
    for note in report.notes:
        console.print(f"  · {note}", highlight=False, markup=False, soft_wrap=True)
