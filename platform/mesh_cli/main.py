"""The `mesh` command: start, stop and inspect the embedded stack."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from mesh_cli.access import access_app
from mesh_cli.audit import audit_app
from mesh_cli.bundle import bundle_app
from mesh_cli.catalog import catalog_app
from mesh_cli.cdc import cdc_app
from mesh_cli.chaos import chaos_app
from mesh_cli.generate import generate_app
from mesh_cli.lab import lab_app
from mesh_cli.mdm import mdm_app
from mesh_cli.migrate import migrate_app
from mesh_cli.ml import ml_app
from mesh_cli.ports import consume, query
from mesh_cli.run import run as run_product
from mesh_client.analyst import ANALYST, demo_access, key_path
from mesh_config import MeshSettings, load_settings
from mesh_stack import Stack, StackError
from mesh_stack.assembly import DEMO_PRODUCTS, HISTORY_READERS, demo_ports, ensure_products
from mesh_stack.component import ComponentStatus
from mesh_stack.products import ProductPorts, running_products, start_product, stop_products
from mesh_stack.stack import StartReport

app = typer.Typer(help="The Streamline reference data mesh.", no_args_is_help=True, add_completion=False)
app.command(name="run")(run_product)
app.add_typer(generate_app, name="generate", help="Realistic traffic for the products' inputs.")
app.add_typer(cdc_app, name="cdc", help="Change data capture of the operational databases.")
app.add_typer(audit_app, name="audit", help="The immutable change audit log: run, verify, history.")
app.add_typer(catalog_app, name="catalog", help="The data product catalog: run it.")
app.add_typer(access_app, name="access", help="Who may read which product: identities, requests, grants.")
app.add_typer(lab_app, name="lab", help="Hands-on labs on the running mesh, checked automatically.")
app.add_typer(chaos_app, name="chaos", help="The fault catalogue: inject a fault, get a verdict.")
app.add_typer(bundle_app, name="bundle", help="The offline bundle: export once, install a room from it.")
app.add_typer(ml_app, name="ml", help="The models of an ML product: reproduce one from its pinned data.")
app.add_typer(mdm_app, name="mdm", help="Data stewardship of customer-360: the review queue, match, split.")
app.add_typer(migrate_app, name="migrate", help="The strangler fig: move subscriptions off the monolith, step by step.")
app.command()(query)
app.command()(consume)
console = Console()
err_console = Console(stderr=True)

_PHASE_STYLE = {
    "waiting": "dim",
    "preparing": "yellow",
    "starting": "yellow",
    "provisioning": "yellow",
    "healthy": "green",
    "running": "green",
    "failed": "bold red",
    "stopping": "yellow",
    "stopped": "dim",
}


class _Progress:
    """A live table of every component's phase, redrawn as the supervisor reports."""

    def __init__(self, names: list[str], echo: bool) -> None:
        self.began = time.monotonic()
        self.rows: dict[str, tuple[str, str, float]] = {n: ("pending", "", 0.0) for n in names}
        self.echo = echo  # without a terminal to redraw, each change is printed as a line

    def __call__(self, name: str, phase: str, detail: str) -> None:
        at = time.monotonic() - self.began
        self.rows[name] = (phase, detail, at)
        if self.echo:
            console.print(f"{at:6.1f} s  {name:<10} {phase:<12} {detail}".rstrip(), highlight=False)

    def render(self) -> Table:
        table = Table(title=f"mesh up  {time.monotonic() - self.began:5.1f} s", title_justify="left")
        for column in ("component", "phase", "at", "detail"):
            table.add_column(column)
        for name, (phase, detail, at) in self.rows.items():
            style = _PHASE_STYLE.get(phase, "")
            table.add_row(name, f"[{style}]{phase}[/]" if style else phase, f"{at:5.1f} s", detail)
        return table


def _stack(listener: _Progress | None = None) -> Stack:
    settings = load_settings()
    return Stack(settings, listener) if listener else Stack(settings)


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(code=1)


def _print_where(settings: MeshSettings, report: StartReport) -> None:
    console.print(f"\n[bold green]The stack is up[/] in {report.total_s:.1f} s. Where everything is:")
    table = Table(show_header=True)
    table.add_column("what")
    table.add_column("where")
    table.add_row("PostgreSQL", settings.postgres_dsn("<db>").replace(f":{settings.postgres_password}@", "@"))
    databases = [
        settings.legacy_db,
        settings.content_db,
        settings.crm_db,
        settings.subscriptions_db,
        settings.catalog_db,
    ]
    table.add_row("  databases", ", ".join(databases))
    table.add_row(
        "S3 (SeaweedFS)",
        f"{settings.s3_url}  buckets: {settings.warehouse_bucket}, {settings.audit_bucket} (Object Lock)",
    )
    table.add_row("Kafka", settings.bootstrap_servers)
    table.add_row("Schema registry", settings.schema_registry_url)
    table.add_row("Kafka Connect", settings.kafka_connect_url)
    table.add_row("Iceberg catalog", f"{settings.iceberg_catalog_uri.split('@')[-1]}  warehouse {settings.warehouse}")
    table.add_row("State", str(settings.home))
    console.print(table)
    console.print("Next: [bold]mesh status[/], [bold]mesh logs kafka[/], [bold]mesh down[/].")


@app.command()
def up() -> None:
    """Start the embedded stack (idempotent): PostgreSQL, S3, Kafka, registry, Connect, catalog."""
    settings = load_settings()
    interactive = console.is_terminal
    progress = _Progress([t.name for t in Stack(settings).components.values()], echo=not interactive)
    stack = Stack(settings, progress)
    try:
        worker = _Running(stack)
        if interactive:
            with Live(progress.render(), console=console, refresh_per_second=8) as live:
                while not worker.done():
                    live.update(progress.render())
                    time.sleep(0.125)
                live.update(progress.render())
        report = worker.result()
    except StackError as exc:
        raise _fail(exc) from None
    _print_where(settings, report)


class _Running:
    """Runs `stack.up()` in a thread so the progress display keeps moving."""

    def __init__(self, stack: Stack) -> None:
        import threading

        self._report: StartReport | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(stack,), daemon=True)
        self._thread.start()

    def _run(self, stack: Stack) -> None:
        try:
            self._report = stack.up()
        except BaseException as exc:
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> StartReport:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._report is not None
        return self._report


@app.command()
def init() -> None:
    """Provision services started elsewhere (docker compose, remote): databases, buckets, registry
    compatibility rule and catalog namespaces. `mesh up` does this itself."""
    from mesh_stack.provision import provision_services

    try:
        done = provision_services(load_settings())
    except Exception as exc:
        raise _fail(StackError(f"provisioning failed: {exc}")) from None
    console.print(f"provisioned: {', '.join(done)}")


@app.command()
def start(
    folder: Annotated[Path, typer.Argument(help="a product folder, e.g. products/playback.events")],
    http_port: Annotated[
        int | None, typer.Option(help="REST, GraphQL, discovery, observation, control (default: the product's own)")
    ] = None,
    sql_port: Annotated[int | None, typer.Option(help="PostgreSQL wire protocol (default: the product's own)")] = None,
) -> None:
    """Run a data product in the background (`mesh run` detached); `mesh down` stops it. Without ports, it
    gets those the mesh gives the product of that folder name (the demo's, or a pair of its own)."""
    from mesh_stack.assembly import product_ports

    settings = load_settings()
    own = product_ports(settings, folder.resolve().name)
    try:
        url = start_product(settings, folder, ProductPorts(http_port or own.http, sql_port or own.sql))
    except StackError as exc:
        raise _fail(exc) from None
    console.print(f"{folder.resolve().name} is running: {url}  (log: mesh logs product-{folder.resolve().name})")


ProductName = Annotated[
    str,
    typer.Argument(
        help="a product's folder name under products/ (e.g. playback.events), or a component of the stack "
        "(postgres, seaweedfs, kafka, registry, connect)"
    ),
]


def _component(settings: MeshSettings, name: str) -> str | None:
    """The stack component called `name`, unless a product folder has that name."""
    if (settings.products_dir / name / "dataproduct.yaml").exists():
        return None
    return name if name in Stack(settings).components else None


@app.command()
def stop(product: ProductName) -> None:
    """Stop one product or one component of the stack, gracefully (`mesh restart NAME` or `mesh up` brings
    it back); what needs it notices, and recovers when it is back."""
    from mesh_stack.products import stop_product

    settings = load_settings()
    component = _component(settings, product)
    if component is not None:
        running = Stack(settings)[component].is_running()
        Stack(settings)[component].stop()
        console.print(f"{component} stopped" if running else f"{component} was not running")
        return
    stopped = stop_product(settings, product)
    console.print(f"{product} stopped" if stopped else f"{product} was not running")


@app.command()
def restart(product: ProductName) -> None:
    """Stop one product and start it again on its ports: it reads its folder anew (descriptor, contract)
    and resumes from the offsets committed in its snapshots. A component of the stack is stopped and
    started again with what depends on it left running."""
    from mesh_stack.products import stop_product

    settings = load_settings()
    component = _component(settings, product)
    if component is not None:
        Stack(settings)[component].stop()
        with console.status(f"starting {component}"):
            try:
                _stack().up()
            except StackError as exc:
                raise _fail(exc) from None
        console.print(f"{component} running again")
        return
    if not (settings.products_dir / product / "dataproduct.yaml").exists():
        raise _fail(StackError(f"no product folder {settings.products_dir / product}, and no component {product}"))
    stop_product(settings, product)
    with console.status(f"starting {product}"):
        try:
            ensure_products(settings, [product], say=lambda line: console.print(line, highlight=False))
        except StackError as exc:
            raise _fail(exc) from None


@app.command()
def demo(
    rate: Annotated[int, typer.Option(help="playback events per second")] = 100,
    duration: Annotated[int, typer.Option(help="seconds of traffic")] = 30,
    history: Annotated[
        float, typer.Option(help="hours of viewing history sent before the live traffic, on a fresh mesh (0: none)")
    ] = 72,
    rotate_keys: Annotated[
        bool, typer.Option(help="issue the demo's consumers new API keys (by default a valid key is kept)")
    ] = False,
) -> None:
    """The mesh end to end: the stack, change capture, the audit log, the products, a viewing history
    and realistic traffic from the apps and the operational databases, then where to look."""
    import subprocess

    from mesh_cli.cdc import start_capture
    from mesh_sources.capture import SOURCES
    from mesh_stack.audit_service import start_audit
    from mesh_stack.catalog_service import start_catalog

    up()
    settings = load_settings()
    start_capture(settings, list(SOURCES), customers=10_000, titles=500)
    with console.status("starting the audit log"):
        start_audit(settings)
    console.print("[green]✓[/] audit log running (mesh audit verify · mesh audit history KEY)")
    # Before the products: each registers with the catalog as soon as its ports answer.
    with console.status("starting the data product catalog"):
        try:
            start_catalog(settings)
        except StackError as exc:
            raise _fail(exc) from None
    console.print(f"[green]✓[/] data product catalog running: {settings.product_catalog_endpoint}")
    ports = demo_ports(settings)
    mesh = str(Path(sys.executable).parent / "mesh")
    # engagement.viewing and the products after it start once playback.events holds the history, so that
    # engagement's first refresh reads all of it at once, in time order.
    readers = HISTORY_READERS
    _start_side_by_side(settings, tuple(p for p in DEMO_PRODUCTS if p not in readers))
    if history > 0 and _get(ports["playback.events"].http, "/observations")["total_rows"] == 0:
        console.print(f"\n[bold]A viewing history of {history:g} h[/] for the recommender to learn from")
        backfill = [mesh, "generate", "playback", "--backfill-hours", f"{history:g}", "--duration", "0"]
        if subprocess.run(backfill, check=False).returncode:
            raise _fail(StackError("the viewing history could not be sent (see the output above)"))
        _wait_for_ingestion(ports["playback.events"].http)
    _start_side_by_side(settings, readers)
    console.print(
        f"\n[bold]Traffic for {duration} s:[/] {rate} playback events/s (imperfections included), "
        "legacy subscription transactions, content team edits and customer care's contact changes"
    )
    seconds = ["--duration", str(duration)]
    workloads = [
        subprocess.Popen([mesh, "generate", "legacy", "--rate", "20", *seconds], stdout=subprocess.DEVNULL),
        subprocess.Popen([mesh, "generate", "content", "--rate", "1", *seconds], stdout=subprocess.DEVNULL),
        subprocess.Popen([mesh, "generate", "crm", "--rate", "2", *seconds], stdout=subprocess.DEVNULL),
    ]
    subprocess.run([mesh, "generate", "playback", "--rate", str(rate), *seconds], check=False)
    for workload in workloads:
        workload.wait(timeout=120)
    _wait_for_the_mesh(settings)
    with console.status("issuing the demo analyst's API key and grants"):
        key = demo_access(settings, rotate=rotate_keys)
    console.print(
        f"[green]✓[/] consumer {ANALYST} granted every product (PII masked); its key is in {key_path(settings)}"
    )
    _print_demo(settings, key)


def _get(port: int, path: str) -> Any:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=30).json()


def _start_side_by_side(settings: MeshSettings, names: tuple[str, ...]) -> None:
    """Start products at once (each is its own process) and wait until every one answers."""
    with console.status(f"starting {', '.join(names)}"):
        try:
            ensure_products(settings, names, say=lambda line: console.print(line, highlight=False))
        except StackError as exc:
            raise _fail(exc) from None


def _wait_for_ingestion(port: int, timeout_s: float = 300) -> None:
    """Until playback.events has ingested everything on its input topic. Its consumer lag is measured
    at most every 5 s after a batch, so only a report from well after the history was sent counts."""
    sent = time.monotonic()
    with console.status("playback.events is ingesting the history") as status:
        while time.monotonic() < sent + timeout_s:
            lag = _get(port, "/observations")["consumer_lag"]
            behind = sum(lag.values())
            if lag and behind == 0 and time.monotonic() - sent > 8:
                console.print("[green]✓[/] playback.events ingested the history")
                return
            status.update(f"playback.events is ingesting the history: {behind:,} events to go")
            time.sleep(2)
    raise _fail(
        StackError("playback.events did not ingest the history in 5 minutes (mesh logs product-playback.events)")
    )


def _wait_for_the_mesh(settings: MeshSettings, timeout_s: float = 300) -> None:
    """Until the traffic has reached every product: engagement has processed playback's newest
    snapshot, the KPIs were recomputed after that, and a model trained on it serves recommendations."""
    ports = demo_ports(settings)
    playback, engagement = ports["playback.events"].http, ports["engagement.viewing"].http
    kpis = ports["content-insights.kpis"].http
    deadline = time.monotonic() + timeout_s
    with console.status("waiting for the data to flow through every product") as status:
        while time.monotonic() < deadline:
            newest = _get(playback, "/snapshots")[-1]["snapshot_id"]
            seen = _get(engagement, "/").get("refresh", {}).get("input_snapshots", {}).get("playback")
            if seen == newest:
                break
            status.update("engagement.viewing is catching up with playback.events")
            time.sleep(2)
        caught_up = _get(engagement, "/").get("refresh", {}).get("at", "")
        while time.monotonic() < deadline and _get(kpis, "/").get("refresh", {}).get("at", "") < caught_up:
            status.update("content-insights.kpis is recomputing")
            time.sleep(2)
        status.update("recommendations.next-title is training a model")
        retrained = _refresh_product(settings, "recommendations.next-title")
    console.print(f"[green]✓[/] data reached every product; model trained, refresh {retrained.get('refresh')}")


def _refresh_product(settings: MeshSettings, name: str) -> dict[str, Any]:
    import httpx

    from mesh_stack.products import control_token

    port = demo_ports(settings)[name].http
    token = control_token(settings, name)
    response = httpx.post(
        f"http://127.0.0.1:{port}/control/refresh", headers={"Authorization": f"Bearer {token}"}, timeout=600
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


@app.command()
def retrain(
    product: Annotated[str, typer.Argument(help="a derived product mesh demo runs")] = "recommendations.next-title",
) -> None:
    """Recompute a derived product now: for recommendations.next-title, train, evaluate and publish a
    new model version."""
    if product not in DEMO_PRODUCTS:
        raise _fail(StackError(f"no product {product!r}; choose one of {', '.join(DEMO_PRODUCTS)}"))
    try:
        with console.status(f"refreshing {product}"):
            result = _refresh_product(load_settings(), product)
    except Exception as exc:
        raise _fail(StackError(f"{product} could not refresh: {exc}. Is it running (`mesh status`)?")) from None
    console.print(f"{product}: refresh {result.get('refresh')} committed {result.get('committed', {})}")


def _print_demo(settings: MeshSettings, key: str) -> None:
    time.sleep(2)  # the last micro-batches commit
    table = Table(title="The products after the traffic")
    table.add_column("product", no_wrap=True, min_width=23)
    for column in ("rows", "snapshots", "dead letters", "freshness", "contract checks"):
        table.add_column(column)
    for name, ports in demo_ports(settings).items():
        report = _get(ports.http, "/observations")
        fresh = report["freshness_seconds"]
        passed = sum(q["passed"] for q in report["quality"])
        table.add_row(
            name,
            f"{report['total_rows']:,}",
            str(report["snapshot_count"]),
            str(sum(report["dead_letters"].values())),
            f"{fresh:.1f} s" if fresh is not None else "-",
            f"{passed}/{len(report['quality'])} pass",
        )
    console.print(table)
    _print_tour(demo_ports(settings), settings.product_catalog_endpoint, key)


def _print_tour(ports: dict[str, ProductPorts], catalog: str, key: str) -> None:
    http = {name: p.http for name, p in ports.items()}
    playback = _get(http["playback.events"], "/observations")
    engagement = _get(http["engagement.viewing"], "/")
    model = _get(http["recommendations.next-title"], "/").get("derivation", {}).get("model_card") or {}
    figures = Table(title="Live figures", show_header=False)
    figures.add_row("playback events ingested", f"{playback['volumes']['written']:,}")
    figures.add_row("open viewing sessions", str(engagement.get("derivation", {}).get("open_sessions", "-")))
    evaluation = model.get("evaluation")
    if evaluation:
        figures.add_row(
            f"model {model.get('version')} precision@{evaluation['k']}",
            f"{evaluation['model_precision']:.3f} (popularity baseline {evaluation['baseline_precision']:.3f})",
        )
        figures.add_row(
            f"recall@{evaluation['k']}",
            f"{evaluation['model_recall']:.3f} (baseline {evaluation['baseline_recall']:.3f})",
        )
    elif model:
        figures.add_row(f"model {model.get('version')}", f"not evaluated yet: {model.get('not_evaluated_because')}")
    console.print(figures)

    def url(name: str) -> str:
        return f"http://127.0.0.1:{http[name]}"

    auth = '-H "Authorization: Bearer $MESH_API_KEY"'
    console.print(
        "\n[bold]Look around[/] (each product: / discovery, /docs OpenAPI, /graphql, /observations, /metrics).\n"
        f"Data ports need an API key; the demo analyst's (PII masked):\n  export MESH_API_KEY={key}\n"
        f"  raw       curl {auth} '{url('playback.events')}/history?limit=3&sort=-occurred_at'  ·  "
        f"curl {auth} {url('subscriptions.customers')}/customers/42  ·  "
        f"curl {auth} '{url('content.titles')}/titles?kind=film&limit=5'\n"
        f"  derived   curl {auth} '{url('engagement.viewing')}/daily?sort=-watch_seconds&limit=5'  ·  "
        f"curl {auth} '{url('engagement.viewing')}/sessions?customer_id=42'\n"
        f"  ML        curl {auth} '{url('recommendations.next-title')}/recommendations?customer_id=42&sort=rank'  ·  "
        f"curl {auth} {url('recommendations.next-title')}/models  ·  mesh retrain\n"
        f"  MDM       curl {auth} '{url('customers.customer-360')}/golden?customer_id=42'  ·  "
        f"curl {auth} '{url('customers.customer-360')}/xref?golden_id=...'  ·  mesh mdm review  ·  "
        f"curl {auth} '{url('customers.customer-profile')}/profiles?customer_id=42'\n"
        f"  BI / SQL  PGPASSWORD=$MESH_API_KEY psql -h 127.0.0.1 -p {ports['content-insights.kpis'].sql} -U {ANALYST} "
        "-d content-insights -c 'SELECT * FROM content_insights.kpis_genre_daily_v1 ORDER BY watch_hours DESC'\n"
        "  access    mesh access whoami  ·  mesh access request subscriptions.customers --purpose '...' --pii  ·  "
        f"the owners' keys: {key_path(load_settings()).parent}\n"
        f"  portal    open {catalog}/portal/  (products, lineage graph, policies, audit log)\n"
        f"  catalog   curl '{catalog}/search?q=watch_seconds'  ·  curl {catalog}/lineage/runs  ·  "
        "mesh catalog lineage urn:mesh:recommendations:next-title:v1/recommendations.title_id\n"
        "  CDC       mesh cdc status  ·  mesh generate legacy --rate 50  ·  mesh generate crm --rate 5    "
        "audit  mesh audit verify\n"
        "  more      mesh generate playback --rate 200  ·  mesh status  ·  mesh down"
    )


@app.command()
def down() -> None:
    """Stop the products and every component of the stack; leaves no process behind. Data is kept."""
    from mesh_stack.audit_service import stop_audit
    from mesh_stack.catalog_service import stop_catalog
    from mesh_stack.toxiproxy import stop_toxiproxy

    settings = load_settings()
    products = stop_products(settings)
    stops = (("audit", stop_audit), ("catalog-service", stop_catalog), ("toxiproxy", stop_toxiproxy))
    services = [name for name, stop in stops if stop(settings)]
    stopped = products + services + _stack().down()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def _human(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n else "-"


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False) -> None:
    """Each component: URL, health, pid and resident memory."""
    settings = load_settings()
    from mesh_stack.audit_service import audit_process
    from mesh_stack.catalog_service import catalog_process
    from mesh_stack.toxiproxy import Toxiproxy, toxiproxy_process

    rows = _stack().status()
    processes = (audit_process(settings), catalog_process(settings), toxiproxy_process(settings))
    services = [p for p in processes if p.pid_path.exists()]
    from mesh_stack.assembly import product_ports

    urls = {"catalog-service": settings.product_catalog_endpoint, "toxiproxy": Toxiproxy(settings).url}
    for product in running_products(settings):
        ports = product_ports(settings, product.name.removeprefix("product-"))
        urls[product.name] = f"http://{settings.host}:{ports.http}  sql :{ports.sql}"
    for process in [*running_products(settings), *services]:
        rows.append(
            ComponentStatus(
                process.name,
                urls.get(process.name, ""),
                "running" if process.is_running() else "stopped",
                process.pid,
                process.rss_bytes(),
                str(process.log_path),
            )
        )
    if as_json:
        sys.stdout.write(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
        return
    table = Table()
    for column in ("component", "url", "health", "pid", "memory"):
        table.add_column(column)
    for r in rows:
        style = {"healthy": "green", "ready": "green", "running": "green", "stopped": "dim"}.get(r.health, "red")
        table.add_row(r.name, r.url, f"[{style}]{r.health}[/]", str(r.pid or "-"), _human(r.rss_bytes))
    total = sum(r.rss_bytes for r in rows)
    table.add_row("[bold]total[/]", "", "", "", f"[bold]{_human(total)}[/]")
    console.print(table)


@app.command()
def doctor() -> None:
    """Pre-flight for a workshop: Python, Java, free memory and disk, ports, warm caches; ends in one
    line to send to the trainer. Exits 1 when something must be fixed first."""
    from mesh_stack.doctor import examine, summary

    settings = load_settings()
    findings = examine(settings, lambda: any(r.health in ("healthy", "running") for r in _stack().status()))
    table = Table("check", "verdict", "seen", "fix")
    for f in findings:
        style = {"ok": "green", "warn": "yellow", "fail": "bold red"}[f.verdict]
        table.add_row(f.what, f"[{style}]{f.verdict}[/]", f.seen, f.fix)
    console.print(table)
    console.print(summary(findings), highlight=False, soft_wrap=True)
    if any(f.verdict == "fail" for f in findings):
        raise typer.Exit(1)


@app.command()
def logs(
    component: Annotated[
        str, typer.Argument(help="postgres, seaweedfs, kafka, registry, connect, audit, catalog-service, product-NAME")
    ],
    lines: Annotated[int, typer.Option("--lines", "-n")] = 50,
) -> None:
    """Print the last lines of a component's log."""
    from mesh_stack.audit_service import audit_process
    from mesh_stack.catalog_service import catalog_process

    stack = _stack()
    processes = {name: c.process for name, c in stack.components.items()}
    processes |= {p.name: p for p in running_products(stack.settings)}
    processes |= {p.name: p for p in (audit_process(stack.settings), catalog_process(stack.settings))}
    if component not in processes:
        raise _fail(StackError(f"no component {component!r}; choose one of {', '.join(processes)}"))
    path = processes[component].log_path
    if not path.exists():
        raise _fail(StackError(f"{component} has no log yet ({path}): has it been started?"))
    console.print(processes[component].log_tail(lines), highlight=False, markup=False)


@app.command()
def reset(yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False) -> None:
    """Stop the stack and delete all its data (downloaded artifacts are kept)."""
    stop_products(load_settings())
    stack = _stack()
    if not yes and not typer.confirm(f"Delete all mesh state under {stack.settings.home}?"):
        raise typer.Exit(code=1)
    stack.reset()
    console.print(f"removed {stack.settings.home}")


if __name__ == "__main__":
    app()
