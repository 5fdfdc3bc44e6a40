"""`mesh generate`: realistic, imperfect traffic for the data products' input ports."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Annotated, NoReturn

import psycopg
import typer
from psycopg.conninfo import conninfo_to_dict
from rich.console import Console, RenderableType
from rich.live import Live

from mesh_config import load_settings
from mesh_generate import (
    Catalogue,
    Imperfections,
    PlaybackSimulator,
    PlaybackTraffic,
    Population,
    Tally,
    send_traffic,
    sessions_for_rate,
)
from mesh_generate.backfill import DEFAULT_EVENTS, DEFAULT_VIEWERS, Backfill, history_ends
from mesh_generate.errors import GeneratorError
from mesh_generate.messages import Outgoing
from mesh_generate.progress import (
    history_line,
    history_position,
    history_table,
    live_table,
    progress_line,
    summary_line,
    summary_table,
)
from mesh_generate.sending import Sink
from mesh_sources import progress as source_progress
from mesh_sources.content import ContentWorkload, install_content
from mesh_sources.crm import CrmWorkload, install_crm
from mesh_sources.db import SeedReport, describe
from mesh_sources.legacy import LegacyWorkload, install_legacy
from mesh_sources.progress import SourceView
from mesh_sources.running import RunTally, run_workload

DEFAULT_PLAYBACK_TOPIC = "playback.telemetry.raw.v1"
PLAIN_PROGRESS_EVERY_S = 5.0

generate_app = typer.Typer(
    help="Generate realistic traffic for the data products.", no_args_is_help=True, add_completion=False
)
console = Console()
err_console = Console(stderr=True)


@generate_app.command()
def playback(
    rate: Annotated[float, typer.Option(help="events per second")] = 20.0,
    count: Annotated[int | None, typer.Option(min=1, help="stop after this many messages")] = None,
    duration: Annotated[float | None, typer.Option(min=0.0, help="stop after this many seconds")] = None,
    customers: Annotated[int, typer.Option(min=1, help="customers 1..N who watch")] = 10_000,
    titles: Annotated[int, typer.Option(min=1, help="titles 1..N in the catalogue")] = 500,
    seed: Annotated[int | None, typer.Option(help="replay the same traffic (default: a random seed)")] = None,
    late_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of all messages that are valid events sent late")
    ] = 0.02,
    duplicate_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of all messages that repeat an event sent before")
    ] = 0.01,
    malformed_fraction: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="share of all messages that are undecodable, schema-invalid or contract-breaking (a third each)",
        ),
    ] = 0.01,
    topic: Annotated[str, typer.Option(help="input topic (created if missing)")] = DEFAULT_PLAYBACK_TOPIC,
    backfill_hours: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="first send this many hours of viewing history, as fast as Kafka takes it, ending now (0: none)",
        ),
    ] = 0.0,
    backfill_viewers: Annotated[
        int, typer.Option(min=1, help="the history's audience: the N most active of the --customers")
    ] = DEFAULT_VIEWERS,
    backfill_events: Annotated[
        int, typer.Option(min=1, help="about this many events in the history (the number of sessions follows)")
    ] = DEFAULT_EVENTS,
    wait_delivery: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="after sending, wait up to this many seconds for Kafka to take every message",
        ),
    ] = 30.0,
) -> None:
    """App telemetry for `playback.events`: viewing sessions (play, heartbeat, pause, seek, stop) as Avro
    through the schema registry, keyed by session, with late, duplicate and malformed messages mixed in.
    Runs until --count, --duration or Ctrl-C. Late events arrive 15 s to 3 min after they happen, so
    short runs send fewer of them than --late-fraction asks.

    With --backfill-hours, live traffic is preceded by a history for the recommender to learn from: the
    sessions of the last H hours by the most active viewers, with the same imperfections, sent as fast
    as Kafka takes them until the history catches up with the wall clock (never beyond it). --count and
    --duration then apply to the live traffic; --duration 0 sends the history only. Send it to a fresh
    mesh, before engagement.viewing reads it: engagement drops events older than its newest minus 10
    minutes, and a history compressed into seconds reaches it out of order across partitions unless it
    reads the history in one go."""
    if rate <= 0:
        raise typer.BadParameter(f"must be positive, not {rate}", param_hint="--rate")
    try:
        imperfections = Imperfections(late_fraction, duplicate_fraction, malformed_fraction)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--*-fraction") from None
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    backfill = Backfill(backfill_hours, backfill_viewers, backfill_events) if backfill_hours > 0 else None

    from mesh_generate.kafka_sink import KafkaPlaybackSink  # imports the Kafka client only when needed

    try:
        sink = KafkaPlaybackSink.connect(load_settings(), topic)
    except GeneratorError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(code=1) from None

    catalogue, population = Catalogue.generate(titles), Population.generate(customers)
    if backfill is not None:
        history = _send_history(backfill, catalogue, population, imperfections, sink, topic, seed)
        if history.interrupted or duration == 0:
            return

    sessions = sessions_for_rate(rate)
    simulator = PlaybackSimulator(
        catalogue,
        population,
        concurrent_sessions=sessions,
        seed=seed,
        start_ms=_now_ms(),
    )
    traffic = PlaybackTraffic(simulator, imperfections, seed=seed)
    console.print(
        f"sending to [bold]{topic}[/] at {rate:g} events/s: {sessions} concurrent sessions, "
        f"{customers} customers, {titles} titles, seed {seed}. Ctrl-C stops.",
        highlight=False,
        soft_wrap=True,
    )
    tally = _send(
        traffic,
        sink,
        rate=rate,
        count=count,
        duration=duration,
        table=live_table,
        line=progress_line,
        wait_delivery=wait_delivery,
    )
    console.print(summary_line(tally, topic, seed), highlight=False, soft_wrap=True)
    _end_of_run(tally)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _send_history(
    backfill: Backfill,
    catalogue: Catalogue,
    population: Population,
    imperfections: Imperfections,
    sink: Sink,
    topic: str,
    seed: int,
) -> Tally:
    """The backfill: a seeded history (a seed of its own, so that its event ids are not the live
    traffic's) sent unpaced until it reaches the present."""
    history_seed = f"backfill:{seed}"
    simulator = backfill.simulator(catalogue, population, seed=history_seed, now_ms=_now_ms())
    traffic = PlaybackTraffic(simulator, imperfections, seed=history_seed)
    audience = min(backfill.viewers, len(population))
    console.print(
        f"sending to [bold]{topic}[/] a history of {backfill.hours:g} h: about {backfill.expected_events:,} events "
        f"from {backfill.concurrent_sessions} concurrent sessions of the {audience} most active of "
        f"{len(population)} customers, {len(catalogue)} titles, seed {seed}, as fast as Kafka takes them, "
        "until the history reaches the present. Ctrl-C stops.",
        highlight=False,
        soft_wrap=True,
    )

    def position() -> str:
        return history_position(simulator.start_ms, simulator.clock_ms, _now_ms())

    tally = _send(
        traffic,
        sink,
        rate=None,
        stop_before=history_ends(_now_ms),
        table=lambda t: history_table(t, position()),
        line=lambda t: history_line(t, position()),
    )
    span = f"{_utc(simulator.start_ms)} to {_utc(simulator.clock_ms)} UTC"
    console.print(f"history {summary_line(tally, topic, seed)}; it spans {span}", highlight=False, soft_wrap=True)
    _end_of_run(tally)
    return tally


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def _send(
    traffic: PlaybackTraffic,
    sink: Sink,
    *,
    rate: float | None,
    count: int | None = None,
    duration: float | None = None,
    stop_before: Callable[[Outgoing], bool] | None = None,
    table: Callable[[Tally], RenderableType],
    line: Callable[[Tally], str],
    wait_delivery: float = 30.0,
) -> Tally:
    """`send_traffic` with progress: a live table on a terminal, else a line every few seconds."""
    with ExitStack() as stack:
        progress: Callable[[Tally], None] = _PlainProgress(line)
        if console.is_terminal:
            live = stack.enter_context(Live(console=console, refresh_per_second=4, transient=True))
            progress = lambda t: live.update(table(t))  # noqa: E731
        return send_traffic(
            traffic,
            sink,
            rate=rate,
            count=count,
            duration_s=duration,
            stop_before=stop_before,
            on_progress=progress,
            flush_timeout_s=wait_delivery,
        )


def _end_of_run(tally: Tally) -> None:
    console.print(summary_table(tally))
    if tally.deliveries.failed or tally.undelivered:
        err_console.print("[bold red]error:[/] some messages were not acknowledged by Kafka", highlight=False)
        raise typer.Exit(code=1)


class _PlainProgress:
    """Without a terminal to redraw, a line every few seconds."""

    def __init__(self, line: Callable[[Tally], str] = progress_line) -> None:
        self.line = line
        self.next_at_s = PLAIN_PROGRESS_EVERY_S

    def __call__(self, tally: Tally) -> None:
        if tally.elapsed_s >= self.next_at_s:
            self.next_at_s = tally.elapsed_s + PLAIN_PROGRESS_EVERY_S
            console.print(self.line(tally), highlight=False, markup=False, soft_wrap=True)


@generate_app.command()
def legacy(
    rate: Annotated[float, typer.Option(help="row changes per second (approximately)")] = 10.0,
    count: Annotated[int | None, typer.Option(min=1, help="stop after this many transactions")] = None,
    duration: Annotated[float | None, typer.Option(min=0.0, help="stop after this many seconds")] = None,
    seed: Annotated[int | None, typer.Option(help="replay the same operations (default: a random seed)")] = None,
    customers: Annotated[
        int, typer.Option(min=1, help="customers 1..N seeded into an empty database (the viewers of playback)")
    ] = 10_000,
) -> None:
    """Business transactions in the legacy subscriptions monolith, for Debezium to capture: sign-ups, plan
    changes, pauses and resumptions, cancellations, monthly and failed payments with retries, profile edits,
    refunds and GDPR erasures (whose deletes cascade), each one transaction. Installs and seeds the database
    first if it is empty. Runs until --count, --duration or Ctrl-C."""
    _check_rate(rate)
    seed = _seed_or_random(seed)
    settings = load_settings()
    dsn = settings.postgres_dsn(settings.legacy_db)
    _run_source(
        lambda: (install_legacy(dsn, customers), LegacyWorkload.for_mesh(settings, seed=seed)),
        Pace(rate, count, duration, seed),
        source_progress.LEGACY,
        dsn,
        intro=f"legacy monolith, {describe(dsn)}",
        doing="Changing rows",
    )


@generate_app.command()
def content(
    rate: Annotated[float, typer.Option(help="outbox events (one per transaction) per second")] = 2.0,
    count: Annotated[int | None, typer.Option(min=1, help="stop after this many transactions")] = None,
    duration: Annotated[float | None, typer.Option(min=0.0, help="stop after this many seconds")] = None,
    seed: Annotated[int | None, typer.Option(help="replay the same edits (default: a random seed)")] = None,
    titles: Annotated[
        int, typer.Option(min=1, help="titles 1..N seeded into an empty database (the catalogue of playback)")
    ] = 500,
    keep_outbox: Annotated[
        bool, typer.Option(help="leave outbox rows in place instead of deleting them in the same transaction")
    ] = False,
) -> None:
    """The content team at work: titles added, edited (genres, names, ratings, brought back) and retired,
    each change one transaction that writes the title and its outbox event (TitleCreated, TitleUpdated,
    TitleRetired) for Debezium's outbox event router. Installs and seeds the database first if it is empty.
    Runs until --count, --duration or Ctrl-C."""
    _check_rate(rate)
    seed = _seed_or_random(seed)
    settings = load_settings()
    dsn = settings.postgres_dsn(settings.content_db)
    _run_source(
        lambda: (
            install_content(dsn, titles, delete_outbox=not keep_outbox),
            ContentWorkload.connect(dsn, seed=seed, delete_outbox=not keep_outbox),
        ),
        Pace(rate, count, duration, seed),
        source_progress.CONTENT,
        dsn,
        intro=f"content service, {describe(dsn)}",
        doing="Writing events",
    )


@generate_app.command()
def crm(
    rate: Annotated[float, typer.Option(help="contact changes (one per transaction) per second")] = 2.0,
    count: Annotated[int | None, typer.Option(min=1, help="stop after this many transactions")] = None,
    duration: Annotated[float | None, typer.Option(min=0.0, help="stop after this many seconds")] = None,
    seed: Annotated[int | None, typer.Option(help="replay the same changes (default: a random seed)")] = None,
) -> None:
    """Customer care at work in the CRM: contacts edited (names, emails and phone numbers as agents type
    them), second contacts for existing customers, prospects who never subscribed, and erasures, each one
    transaction with the generator's truth kept beside it. Seeds the CRM from the monolith's customers
    first if it is empty (the monolith must be seeded). Runs until --count, --duration or Ctrl-C."""
    _check_rate(rate)
    seed = _seed_or_random(seed)
    settings = load_settings()
    dsn, legacy_dsn = settings.postgres_dsn(settings.crm_db), settings.postgres_dsn(settings.legacy_db)
    _run_source(
        lambda: (install_crm(dsn, legacy_dsn), CrmWorkload.connect(dsn, legacy_dsn, seed=seed)),
        Pace(rate, count, duration, seed),
        source_progress.CRM,
        dsn,
        intro=f"customer-care CRM, {describe(dsn)}",
        doing="Changing contacts",
    )


@dataclass(frozen=True)
class Pace:
    rate: float
    count: int | None
    duration: float | None
    seed: int


SourceWorkload = LegacyWorkload | ContentWorkload | CrmWorkload


def _run_source(
    start: Callable[[], tuple[SeedReport, SourceWorkload]],
    pace: Pace,
    view: SourceView,
    dsn: str,
    *,
    intro: str,
    doing: str,
) -> None:
    """Install and seed the source (once), then run its workload at its pace with progress, then its
    summary and counts."""
    try:
        report, workload = start()
    except GeneratorError as exc:
        _fail(str(exc))
    console.print(
        f"{intro}: {report.describe()}. {doing} at {pace.rate:g}/s, seed {pace.seed}. Ctrl-C stops.",
        highlight=False,
        soft_wrap=True,
    )
    with workload:
        tally = _run_paced(
            workload.step,
            rate=pace.rate,
            count=pace.count,
            duration=pace.duration,
            live=lambda t: view.live(t, workload.counts),
            line=lambda t: view.line(t, workload.counts),
        )
    database = conninfo_to_dict(dsn).get("dbname", "")
    console.print(
        source_progress.summary_line(tally, view.what, str(database), pace.seed), highlight=False, soft_wrap=True
    )
    console.print(view.table(workload.counts, ""))
    if tally.error:
        _fail(f"stopped early: {tally.error}")


def _check_rate(rate: float) -> None:
    if rate <= 0:
        raise typer.BadParameter(f"must be positive, not {rate}", param_hint="--rate")


def _seed_or_random(seed: int | None) -> int:
    return random.SystemRandom().randrange(2**31) if seed is None else seed


def _fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def _run_paced(
    step: Callable[[], int],
    *,
    rate: float,
    count: int | None,
    duration: float | None,
    live: Callable[[RunTally], RenderableType],
    line: Callable[[RunTally], str],
) -> RunTally:
    """A source workload with the same progress display as `playback`: live table or plain lines."""
    lost = (psycopg.OperationalError,)  # the database went away mid-run: stop, and still summarise
    if console.is_terminal:
        with Live(console=console, refresh_per_second=4, transient=True) as display:
            return run_workload(
                step,
                rate=rate,
                count=count,
                duration_s=duration,
                on_progress=lambda t: display.update(live(t)),
                stop_on=lost,
            )
    lines = _PlainLines(line)
    return run_workload(step, rate=rate, count=count, duration_s=duration, on_progress=lines, stop_on=lost)


class _PlainLines:
    """Without a terminal to redraw, a line every few seconds."""

    def __init__(self, line: Callable[[RunTally], str]) -> None:
        self.line = line
        self.next_at_s = PLAIN_PROGRESS_EVERY_S

    def __call__(self, tally: RunTally) -> None:
        if tally.elapsed_s >= self.next_at_s:
            self.next_at_s = tally.elapsed_s + PLAIN_PROGRESS_EVERY_S
            console.print(self.line(tally), highlight=False, markup=False, soft_wrap=True)
