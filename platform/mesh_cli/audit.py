"""`mesh audit`: run the immutable change audit log, prove its chain, and show an entity's history."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mesh_cli.run import _JsonLogs
from mesh_config import MeshSettings, load_settings
from mesh_stack.supervise import service_pid

audit_app = typer.Typer(
    help="The immutable change audit log: run it, verify its chain, show an entity's history.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

TableOption = Annotated[
    str | None, typer.Option("--table", help="the Iceberg table (env MESH_AUDIT_TABLE; default mesh.audit_log_v1)")
]
PrefixOption = Annotated[
    str | None,
    typer.Option("--prefix", help="key prefix of the locked objects (env MESH_AUDIT_OBJECT_PREFIX; default chain/)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


class _Status:
    """A small JSON file saying the service is up and how far it got, for a supervisor (mesh start)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.started_at = datetime.now(UTC).isoformat()
        self._written = 0.0

    def write(self, state: str, last_sequence: int, records: int, *, throttle: bool = False) -> None:
        if self.path is None or (throttle and time.monotonic() - self._written < 1.0):
            return
        self._written = time.monotonic()
        entry = {
            "pid": service_pid(),
            "state": state,
            "started_at": self.started_at,
            "updated_at": datetime.now(UTC).isoformat(),
            "last_sequence": last_sequence,
            "records_since_start": records,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps(entry))
        scratch.replace(self.path)  # readers never see half a file


@dataclass
class _Progress:
    records: int = 0
    logged: float = field(default_factory=time.monotonic)


@audit_app.command("run")
def run_audit(
    table: TableOption = None,
    prefix: PrefixOption = None,
    batch_size: Annotated[int | None, typer.Option(help="most changes in one micro-batch (default 5000)")] = None,
    batch_interval_ms: Annotated[
        int | None, typer.Option(help="longest wait after a batch's first change before it commits (default 200)")
    ] = None,
    status_file: Annotated[Path | None, typer.Option(help="where to keep a JSON status for a supervisor")] = None,
) -> None:
    """Run the audit log service in the foreground until Ctrl-C or SIGTERM (started again if it dies of
    anything else)."""
    from mesh_stack.supervise import supervise

    exited = supervise("the audit log")
    if exited is not None:
        raise typer.Exit(exited)
    from mesh_audit.config import load_options
    from mesh_audit.service import AuditService, BatchResult

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLogs())
    logging.basicConfig(level=os.environ.get("MESH_LOG_LEVEL", "INFO"), handlers=[handler], force=True)
    for chatty in ("httpx", "httpx2", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    log = logging.getLogger("mesh_audit")
    try:
        options = load_options(
            table=table, object_prefix=prefix, batch_size=batch_size, batch_interval_ms=batch_interval_ms
        )
    except ValueError as exc:
        raise _fail(f"bad audit options: {exc}", 2) from None
    status = _Status(status_file)
    progress = _Progress()

    def after_batch(result: BatchResult) -> None:
        progress.records += len(result.records)
        status.write("running", service.head.sequence, progress.records, throttle=True)
        if time.monotonic() - progress.logged >= 30:
            progress.logged = time.monotonic()
            s = service.stats
            log.info(
                "audit log at sequence %d: %d records since start (%d unreadable), %d tombstones skipped",
                service.head.sequence,
                s.records,
                s.unreadable,
                s.tombstones,
            )

    settings = load_settings()
    try:
        service = AuditService.from_options(settings, options, on_batch=after_batch)
        service.start()
    except Exception as exc:
        log.exception("the audit log could not start")
        raise _fail(f"the audit log could not start: {exc}. Is the stack up (`mesh up`)?") from None
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop())
    status.write("running", service.head.sequence, 0)
    err_console.print(
        f"audit log running: table {options.table}, objects s3://{settings.audit_bucket}/{options.object_prefix}, "
        f"next sequence {service.head.sequence + 1}",
        highlight=False,
        soft_wrap=True,
    )
    try:
        service.run()
    finally:
        status.write("stopped", service.head.sequence, progress.records)
    log.info("audit log stopped at sequence %d", service.head.sequence)


def _stores(settings: MeshSettings, table: str | None, prefix: str | None) -> tuple[Any, Any]:
    from pyiceberg.exceptions import NoSuchTableError

    from mesh_audit.config import load_options
    from mesh_audit.verify import open_stores

    try:
        return open_stores(settings, table, prefix)
    except NoSuchTableError:
        name = load_options(table=table).table
        raise _fail(f"there is no audit log yet (no table {name}): start it with `mesh audit run`") from None
    except Exception as exc:
        raise _fail(f"cannot open the audit log table: {exc}. Is the stack up (`mesh up`)?") from None


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z" if at else "-"


@audit_app.command()
def verify(
    table: TableOption = None,
    prefix: PrefixOption = None,
    settle: Annotated[
        float, typer.Option(help="seconds to wait for the newest batch's object, if the service is writing it")
    ] = 5.0,
    as_json: JsonOption = False,
) -> None:
    """Prove the chain: recompute it from both stores and compare them record by record.

    Reads the Iceberg table and the current versions of the locked objects; exits 1 naming the first
    broken link (sequence, store, reason, expected and found)."""
    from mesh_audit.verify import verify_stores

    settings = load_settings()
    log_table, store = _stores(settings, table, prefix)
    try:
        report = verify_stores(log_table, store, settle_s=settle)
    except Exception as exc:
        raise _fail(f"cannot read the audit log: {exc}") from None
    s, broken = report.summary, report.broken
    if as_json:
        out = {
            "intact": report.intact,
            "records": report.table_records,
            "object_records": report.object_records,
            "objects": report.objects,
            "first_sequence": s.first_sequence,
            "last_sequence": s.last_sequence,
            "first_recorded_at": s.first_recorded_at.isoformat() if s.first_recorded_at else None,
            "last_recorded_at": s.last_recorded_at.isoformat() if s.last_recorded_at else None,
            "sources": s.sources,
            "broken": None if broken is None else {**asdict(broken), "reason": broken.reason.value},
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        if not report.intact:
            raise typer.Exit(1)
        return
    summary = Table(title=f"audit log {log_table.name}", show_header=False, title_justify="left")
    summary.add_row("records", f"{report.table_records:,} in the table")
    objects = f"{report.objects:,} locked object{'' if report.objects == 1 else 's'}"
    summary.add_row("", f"{report.object_records:,} in {objects}, s3://{store.bucket}/{store.prefix}")
    summary.add_row("sequences", f"{s.first_sequence} - {s.last_sequence}" if s.records else "-")
    summary.add_row("recorded", f"{_when(s.first_recorded_at)} - {_when(s.last_recorded_at)}")
    summary.add_row("occurred", f"{_when(s.first_occurred_at)} - {_when(s.last_occurred_at)}")
    summary.add_row("sources", f"{len(s.sources)}")
    for source, count in s.sources.items():
        summary.add_row("", f"{source}: {count:,}")
    summary.add_row("chain", "[bold green]intact[/]" if broken is None else "[bold red]BROKEN[/]")
    console.print(summary)
    if broken is None:
        return
    where = f" ({broken.location})" if broken.location else ""
    console.print(
        f"[bold red]first broken link:[/] sequence {broken.sequence} in {broken.store}{where}: {broken.reason.value}\n"
        f"  expected: {broken.expected}\n"
        f"  found:    {broken.found}",
        highlight=False,
        soft_wrap=True,
    )
    if broken.reason.value == "missing record" and broken.store == "objects":
        console.print(
            "  hint: a service stopped between its table commit and the object write writes the missing "
            "objects when it starts again (`mesh audit run`); objects hidden behind a delete marker are not "
            "rewritten: list the key's versions to see who hid them.",
            highlight=False,
        )
    raise typer.Exit(1)


@audit_app.command()
def show(
    sequence: Annotated[int, typer.Argument(help="a record's sequence number, e.g. the broken link verify named")],
    table: TableOption = None,
    prefix: PrefixOption = None,
    as_json: JsonOption = False,
) -> None:
    """One record as each store holds it, the Iceberg table and the locked object, and the fields in
    which they differ: after `verify` names a broken link, what was changed."""
    from mesh_audit.verify import both_copies

    settings = load_settings()
    log_table, store = _stores(settings, table, prefix)
    copies = both_copies(log_table, store, sequence)
    if copies.table is None and copies.locked is None:
        raise _fail(f"no record {sequence} in either store")
    differ = copies.differences()
    if as_json:
        out = {
            "sequence": sequence,
            "iceberg": copies.table.to_json() if copies.table else None,
            "objects": copies.locked.to_json() if copies.locked else None,
            "location": copies.location,
            "differ": differ,
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    view = Table(title=f"record {sequence}", title_justify="left")
    view.add_column("field")
    view.add_column("iceberg (the table)")
    view.add_column(f"objects (locked: {copies.location or 'none'})")
    names = list((copies.table or copies.locked).to_json())  # type: ignore[union-attr]
    for name in names:
        mine = copies.table.to_json().get(name) if copies.table else None
        theirs = copies.locked.to_json().get(name) if copies.locked else None
        style = "bold red" if name in differ else ""
        view.add_row(f"[{style}]{name}[/]" if style else name, str(mine), str(theirs))
    console.print(view)
    console.print(
        f"[bold red]differ:[/] {', '.join(differ)}" if differ else "[green]both stores hold the same record[/]",
        highlight=False,
    )


@audit_app.command()
def history(
    key: Annotated[str, typer.Argument(help="the entity's key, e.g. 42 (composite keys: a|b)")],
    source: Annotated[str | None, typer.Option(help="only sources (topic or db.schema.table) containing this")] = None,
    table: TableOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every recorded change of one entity, in sequence order."""
    settings = load_settings()
    log_table, _store = _stores(settings, table, None)
    records = log_table.records_of(key)
    if source:
        records = [r for r in records if source in r.source or (r.source_table and source in r.source_table)]
    if as_json:
        sys.stdout.write(json.dumps([r.to_json() for r in records], indent=2) + "\n")
        return
    if not records:
        console.print(f"no recorded change of {key!r}" + (f" in a source containing {source!r}" if source else ""))
        return
    view = Table(title=f"changes of {key}", title_justify="left")
    for column in ("seq", "when (source time)", "source", "op", "before", "after", "payload"):
        view.add_column(column, no_wrap=column in ("seq", "payload"))
    for r in records:
        origin = r.source + (f"\n{r.source_table}" if r.source_table else "")
        view.add_row(
            str(r.sequence),
            _when(r.occurred_at or r.recorded_at),
            origin,
            r.operation,
            (r.before_digest or "-")[:12],
            (r.after_digest or "-")[:12],
            r.payload_ref,
        )
    # Piped output has no terminal width to fit: keep the rows readable rather than squeezed into 80.
    (console if console.is_terminal else Console(width=max(console.width, 180))).print(view)
