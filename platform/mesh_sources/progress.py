"""How a source workload looks to the person running it: a live table on a terminal, plain lines
elsewhere, and a summary at the end, in the style of `mesh generate playback`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from mesh_sources.content_model import EVENT_TYPES
from mesh_sources.content_ops import EventCounts
from mesh_sources.crm import OPERATIONS as CRM_OPERATIONS
from mesh_sources.legacy_ops import CHANGES, TABLES, ChangeCounts
from mesh_sources.running import RunTally


def _heading(tally: RunTally, unit: str) -> str:
    return f"{tally.elapsed_s:6.1f} s  {tally.rate_per_s:8.1f} {unit}/s"


def legacy_table(counts: ChangeCounts, title: str = "") -> Table:
    """Rows changed by table and change, then transactions by business operation."""
    table = Table(title=title or None, title_justify="left")
    table.add_column("table")
    for change in CHANGES:
        table.add_column(change, justify="right")
    for name in TABLES:
        table.add_row(name, *(str(counts.rows[(name, change)]) for change in CHANGES))
    table.add_row("[bold]all rows[/]", *(f"[bold]{sum(counts.rows[(t, c)] for t in TABLES)}[/]" for c in CHANGES))
    table.add_section()
    table.add_row("[bold]transactions[/]", f"[bold]{counts.transactions}[/]", "", "")
    for operation, done in sorted(counts.operations.items()):
        table.add_row(f"  {operation}", str(done), "", "")
    if counts.skipped:
        table.add_row("[yellow]no longer applicable, rolled back[/]", str(counts.skipped), "", "")
    return table


def content_table(counts: EventCounts, title: str = "") -> Table:
    """Outbox events (one per transaction) by type."""
    table = Table(title=title or None, title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("[bold]outbox events[/]", f"[bold]{counts.transactions}[/]")
    for event_type in EVENT_TYPES:
        table.add_row(f"  {event_type}", str(counts.events[event_type]))
    if counts.skipped:
        table.add_row("[yellow]no longer applicable, rolled back[/]", str(counts.skipped))
    return table


def crm_table(counts: Counter[str], title: str = "") -> Table:
    """Contact changes by what the agent or web form did."""
    table = Table(title=title or None, title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("[bold]contact changes[/]", f"[bold]{sum(n for op, n in counts.items() if op != 'skipped')}[/]")
    for operation in CRM_OPERATIONS:
        table.add_row(f"  {operation.replace('_', ' ')}", str(counts[operation]))
    if counts["skipped"]:
        table.add_row("[yellow]nothing to change[/]", str(counts["skipped"]))
    return table


def crm_progress_line(tally: RunTally, counts: Counter[str]) -> str:
    by_operation = "  ".join(f"{op} {counts[op]}" for op in CRM_OPERATIONS)
    return f"{tally.elapsed_s:7.1f} s  changes {tally.changes}  rate {tally.rate_per_s:.1f}/s  {by_operation}"


def legacy_progress_line(tally: RunTally, counts: ChangeCounts) -> str:
    by_change = "  ".join(f"{c} {sum(counts.rows[(t, c)] for t in TABLES)}" for c in CHANGES)
    return (
        f"{tally.elapsed_s:7.1f} s  transactions {tally.transactions}  rows {tally.changes}  "
        f"rate {tally.rate_per_s:.1f}/s  {by_change}"
    )


def content_progress_line(tally: RunTally, counts: EventCounts) -> str:
    by_type = "  ".join(f"{t} {counts.events[t]}" for t in EVENT_TYPES)
    return f"{tally.elapsed_s:7.1f} s  events {tally.changes}  rate {tally.rate_per_s:.1f}/s  {by_type}"


@dataclass(frozen=True)
class SourceView:
    """How one source's workload is shown: its counts as a table, as a line, and in the heading."""

    unit: str  # what the live rate counts: rows, events, changes
    what: str  # what the summary counts: row changes, outbox events, ...
    table: Callable[[Any, str], Table]
    line: Callable[[RunTally, Any], str]

    def live(self, tally: RunTally, counts: Any) -> Table:
        return self.table(counts, _heading(tally, self.unit))


def summary_line(tally: RunTally, what: str, database: str, seed: int) -> str:
    """`done: 120 transactions, 187 row changes in legacy in 10.0 s (18.7/s), seed 7`."""
    ending = "interrupted" if tally.interrupted else "done"
    return (
        f"{ending}: {tally.transactions} transactions, {tally.changes} {what} in {database} in "
        f"{tally.elapsed_s:.1f} s ({tally.average_rate_per_s:.1f}/s), seed {seed}"
    )


LEGACY = SourceView("rows", "row changes", legacy_table, legacy_progress_line)
CONTENT = SourceView("events", "outbox events", content_table, content_progress_line)
CRM = SourceView("changes", "contact changes", crm_table, crm_progress_line)
