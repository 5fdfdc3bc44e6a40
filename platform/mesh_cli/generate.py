"""`mesh generate`: realistic, imperfect traffic for the data products' input ports."""

from __future__ import annotations

import random
import time
from typing import Annotated

import typer
from rich.console import Console
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
from mesh_generate.errors import GeneratorError
from mesh_generate.progress import live_table, progress_line, summary_line, summary_table

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
) -> None:
    """App telemetry for `playback.events`: viewing sessions (play, heartbeat, pause, seek, stop) as Avro
    through the schema registry, keyed by session, with late, duplicate and malformed messages mixed in.
    Runs until --count, --duration or Ctrl-C. Late events arrive 15 s to 3 min after they happen, so
    short runs send fewer of them than --late-fraction asks."""
    if rate <= 0:
        raise typer.BadParameter(f"must be positive, not {rate}", param_hint="--rate")
    try:
        imperfections = Imperfections(late_fraction, duplicate_fraction, malformed_fraction)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--*-fraction") from None
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)

    from mesh_generate.kafka_sink import KafkaPlaybackSink  # imports the Kafka client only when needed

    try:
        sink = KafkaPlaybackSink.connect(load_settings(), topic)
    except GeneratorError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(code=1) from None

    sessions = sessions_for_rate(rate)
    simulator = PlaybackSimulator(
        Catalogue.generate(titles),
        Population.generate(customers),
        concurrent_sessions=sessions,
        seed=seed,
        start_ms=time.time_ns() // 1_000_000,
    )
    traffic = PlaybackTraffic(simulator, imperfections, seed=seed)
    console.print(
        f"sending to [bold]{topic}[/] at {rate:g} events/s: {sessions} concurrent sessions, "
        f"{customers} customers, {titles} titles, seed {seed}. Ctrl-C stops.",
        highlight=False,
        soft_wrap=True,
    )

    if console.is_terminal:
        with Live(console=console, refresh_per_second=4, transient=True) as live:
            tally = send_traffic(
                traffic,
                sink,
                rate=rate,
                count=count,
                duration_s=duration,
                on_progress=lambda t: live.update(live_table(t)),
            )
    else:
        tally = send_traffic(traffic, sink, rate=rate, count=count, duration_s=duration, on_progress=_PlainProgress())
    console.print(summary_line(tally, topic, seed), highlight=False, soft_wrap=True)
    console.print(summary_table(tally))
    if tally.deliveries.failed or tally.undelivered:
        err_console.print("[bold red]error:[/] some messages were not acknowledged by Kafka", highlight=False)
        raise typer.Exit(code=1)


class _PlainProgress:
    """Without a terminal to redraw, a line every few seconds."""

    def __init__(self) -> None:
        self.next_at_s = PLAIN_PROGRESS_EVERY_S

    def __call__(self, tally: Tally) -> None:
        if tally.elapsed_s >= self.next_at_s:
            self.next_at_s = tally.elapsed_s + PLAIN_PROGRESS_EVERY_S
            console.print(progress_line(tally), highlight=False, markup=False, soft_wrap=True)
