"""How a run looks to the person watching it: a live table on a terminal, plain lines elsewhere, and
the same summary at the end."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.table import Table

from mesh_generate.messages import Kind
from mesh_generate.sending import Tally

_KIND_STYLE = {
    Kind.VALID: "green",
    Kind.DUPLICATE: "yellow",
    Kind.LATE: "yellow",
    Kind.UNDECODABLE: "red",
    Kind.SCHEMA_INVALID: "red",
    Kind.CONTRACT_BREAKING: "red",
}


def _counts_table(tally: Tally, title: str) -> Table:
    table = Table(title=title or None, title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("[bold]sent[/]", f"[bold]{tally.sent}[/]")
    for kind in Kind:
        count = tally.by_kind[kind]
        share = f"{count / tally.sent:6.1%}" if tally.sent else ""
        table.add_row(f"  [{_KIND_STYLE[kind]}]{kind.value}[/]", f"{count} {share}".rstrip())
    table.add_row("acknowledged", str(tally.deliveries.delivered))
    if tally.deliveries.failed:
        table.add_row("[bold red]failed[/]", str(tally.deliveries.failed))
    return table


def live_table(tally: Tally) -> Table:
    return _counts_table(tally, f"{tally.elapsed_s:6.1f} s  {tally.rate_per_s:8.1f} events/s")


def progress_line(tally: Tally) -> str:
    kinds = "  ".join(f"{kind.value} {tally.by_kind[kind]}" for kind in Kind)
    return (
        f"{tally.elapsed_s:7.1f} s  sent {tally.sent}  rate {tally.rate_per_s:.1f}/s  {kinds}  "
        f"acknowledged {tally.deliveries.delivered}  failed {tally.deliveries.failed}"
    )


def history_position(start_ms: int, clock_ms: int, now_ms: int) -> str:
    """Where a backfill's simulated clock stands: the history's time sent so far and the gap left."""
    at = datetime.fromtimestamp(clock_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    done_h = max(0, clock_ms - start_ms) / 3_600_000
    behind_h = max(0, now_ms - clock_ms) / 3_600_000
    return f"history at {at} UTC: {done_h:.1f} h sent, {behind_h:.1f} h behind the present"


def history_table(tally: Tally, position: str) -> Table:
    table = live_table(tally)
    table.caption = position
    return table


def history_line(tally: Tally, position: str) -> str:
    return f"{progress_line(tally)}  {position}"


def summary_line(tally: Tally, topic: str, seed: int) -> str:
    ending = "interrupted" if tally.interrupted else "done"
    return (
        f"{ending}: {tally.sent} messages to {topic} in {tally.elapsed_s:.1f} s "
        f"({tally.average_rate_per_s:.1f}/s), seed {seed}"
    )


def summary_table(tally: Tally) -> Table:
    table = _counts_table(tally, "")
    if tally.undelivered:
        table.add_row("[bold red]unacknowledged at exit[/]", str(tally.undelivered))
    if tally.deliveries.first_error:
        table.add_row("[bold red]first error[/]", tally.deliveries.first_error)
    return table
