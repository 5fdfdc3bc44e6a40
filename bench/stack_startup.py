"""Start-up time and resident memory of the embedded stack.

Measured in one run, on a private stack (its own ports and state), with a warm download cache:
  - baseline: a cold start (empty state) with the components started one at a time;
  - cold start: empty state, independent components started side by side (what `mesh up` does);
  - warm restart: `mesh down`, then `mesh up` on existing state.
Figures are printed as ratios against the baseline and written to bench/results/stack_startup.json.
Targets (issue #2): whole stack healthy in under 30 s on 2 cores; resident memory under 3 GB.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mesh_stack import Stack
from mesh_stack.isolated import isolated_settings
from mesh_stack.stack import StartReport

ROOT = Path(__file__).resolve().parents[1]

RESULTS = ROOT / "bench" / "results" / "stack_startup.json"
TARGET_START_S = 30.0
TARGET_RSS_BYTES = 3 * 10**9
console = Console()


def _progress(name: str, phase: str, detail: str) -> None:
    if phase in ("healthy", "failed"):
        console.print(f"  {name:<10} {phase}", highlight=False)


def _cold_start(stack: Stack, parallel: bool) -> StartReport:
    stack.reset()
    return stack.up(parallel=parallel)


def main() -> None:
    stack = Stack(isolated_settings("bench-stack", 21700), _progress)
    try:
        console.print("[bold]baseline[/]: cold start, one component at a time")
        sequential = _cold_start(stack, parallel=False)
        console.print("[bold]cold start[/]: empty state, side by side")
        cold = _cold_start(stack, parallel=True)
        time.sleep(5)  # let the JVMs settle before reading memory
        memory = {s.name: s.rss_bytes for s in stack.status()}
        stack.down()
        console.print("[bold]warm restart[/]: existing state")
        warm = stack.up()
    finally:
        stack.down()

    total_rss = sum(memory.values())
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "baseline_sequential_cold_s": round(sequential.total_s, 2),
        "cold_start_s": round(cold.total_s, 2),
        "warm_restart_s": round(warm.total_s, 2),
        "cold_vs_baseline": round(cold.total_s / sequential.total_s, 3),
        "warm_vs_baseline": round(warm.total_s / sequential.total_s, 3),
        "per_component_cold_start_s": {k: round(v, 2) for k, v in cold.start_s.items()},
        "per_component_cold_prepare_s": {k: round(v, 2) for k, v in cold.prepare_s.items()},
        "per_component_warm_start_s": {k: round(v, 2) for k, v in warm.start_s.items()},
        "rss_bytes": memory,
        "rss_total_bytes": total_rss,
        "targets": {
            "start_s": TARGET_START_S,
            "cold_start_within_target": cold.total_s < TARGET_START_S,
            "rss_bytes": TARGET_RSS_BYTES,
            "rss_within_target": total_rss < TARGET_RSS_BYTES,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    table = Table(title="embedded stack start-up (ratios against the sequential cold start)")
    for column in ("component", "cold prepare s", "cold start s", "warm start s", "memory MiB"):
        table.add_column(column, justify="right")
    for name in stack.components:
        table.add_row(
            name,
            f"{cold.prepare_s.get(name, 0):.2f}",
            f"{cold.start_s.get(name, 0):.2f}",
            f"{warm.start_s.get(name, 0):.2f}",
            f"{memory.get(name, 0) / 2**20:.0f}",
        )
    table.add_row(
        "[bold]total[/]",
        "",
        f"[bold]{cold.total_s:.2f}[/]",
        f"[bold]{warm.total_s:.2f}[/]",
        f"[bold]{total_rss / 2**20:.0f}[/]",
    )
    console.print(table)
    console.print(
        f"baseline (sequential cold) {sequential.total_s:.2f} s | cold {cold.total_s:.2f} s "
        f"(x{result['cold_vs_baseline']}) | warm {warm.total_s:.2f} s (x{result['warm_vs_baseline']}) | "
        f"target < {TARGET_START_S:.0f} s: {'met' if cold.total_s < TARGET_START_S else 'MISSED'}"
    )
    verdict = "met" if total_rss < TARGET_RSS_BYTES else "MISSED"
    console.print(f"memory {total_rss / 10**9:.2f} GB, target < 3 GB: {verdict}")
    console.print(f"results: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
