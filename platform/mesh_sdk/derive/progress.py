"""The decisions that make a derived product's refreshes exactly once across several tables, as pure
functions: when to refresh, in which order a refresh commits its tables, what the progress record
holds, and where a process that starts goes back to.

A refresh commits every other output table first and the anchor (the first output port) last, with
the progress record as a table property in the anchor's own commit. The anchor therefore says which
refresh is the last complete one; a table that got further (a crash between two commits) is rolled
back to the snapshot the record names, and the refresh runs again from the inputs it names."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

PROGRESS = "mesh.progress"  # anchor table property: the last complete refresh
INPUTS = "mesh.input-snapshots"  # snapshot summary: the input snapshots a commit reflects
REFRESH = "mesh.refresh"  # snapshot summary: the refresh a commit belongs to

Snapshots = Mapping[str, int | None]  # port -> snapshot id (None: the table has none yet)


@dataclass(frozen=True)
class Progress:
    """The last complete refresh: its number, the input snapshots it read, the snapshot each other
    output table reached."""

    refresh: int = 0
    inputs: Snapshots = field(default_factory=dict)
    outputs: Snapshots = field(default_factory=dict)
    state: str | None = None  # the derivation's state saved after this refresh (None: it keeps none)
    state_recorded: bool = True  # False for a record written before the platform kept states

    @classmethod
    def of(cls, properties: Mapping[str, str]) -> Progress:
        """The progress the anchor table's properties record (a table never refreshed: refresh 0)."""
        raw = properties.get(PROGRESS)
        if not raw:
            return cls()
        record = json.loads(raw)
        return cls(
            int(record["refresh"]),
            dict(record["inputs"]),
            dict(record["outputs"]),
            record.get("state"),
            "state" in record,
        )

    def record(self) -> dict[str, str]:
        """The anchor table property that commits this progress."""
        as_json = {
            "refresh": self.refresh,
            "inputs": dict(self.inputs),
            "outputs": dict(self.outputs),
            "state": self.state,
        }
        return {PROGRESS: json.dumps(as_json)}

    def continues(self) -> bool:
        """Whether a process can continue from this refresh: none yet, or one whose derivation's state
        (if any) the platform kept. A record from before it kept states cannot say what the state was."""
        return self.refresh == 0 or self.state_recorded

    def seen(self, inputs: Iterable[str]) -> dict[str, int | None]:
        """The snapshot of each input port the refresh read (None: not read yet)."""
        return {port: self.inputs.get(port) for port in inputs}

    def roll_back(self, outputs: Sequence[str], anchor: str) -> dict[str, int | None]:
        """Where every output table but the anchor goes back to: the snapshot this refresh left it at."""
        return {port: self.outputs.get(port) for port in outputs if port != anchor}


def changed_inputs(snapshots: Snapshots, seen: Snapshots) -> frozenset[str]:
    """The input ports with a snapshot the last complete refresh did not read: a refresh is due."""
    return frozenset(port for port, snapshot in snapshots.items() if snapshot != seen.get(port))


def commit_order(outputs: Sequence[str], anchor: str) -> list[str]:
    """Every other output table in declared order, then the anchor, whose commit completes the refresh."""
    return [port for port in outputs if port != anchor] + [anchor]


def commit_summary(refresh: int, snapshots: Snapshots) -> dict[str, str]:
    """What every commit of a refresh records in its snapshot summary (lineage, time travel by refresh)."""
    return {INPUTS: json.dumps(dict(snapshots)), REFRESH: str(refresh)}


def unknown_ports(updates: Iterable[str], outputs: Iterable[str]) -> str | None:
    """The refusal of updates for ports the product does not have, or None."""
    unknown = set(updates) - set(outputs)
    if not unknown:
        return None
    return f"refresh returned updates for {sorted(unknown)}, not output ports {list(outputs)}"
