"""Each lab's time to start, to solve (every step, as `mesh lab solve` does) and to reset, on a mesh of
the benchmark's own that starts empty. Baseline, measured in the same run: a full restart of the
first lab's mesh (`mesh down`, then `mesh lab start` on the kept state), which is what a reset spares
a trainer. Target (issue #17): every reset under 30 s. Results: bench/results/labs.json.
"""

from __future__ import annotations

import time

from rich.table import Table

from bench.common import ROOT, console, write_results
from mesh_config import MeshSettings
from mesh_labs import LabRunner
from mesh_labs.catalogue import lab_folders
from mesh_labs.sandbox import with_own_files
from mesh_stack import Stack
from mesh_stack.audit_service import stop_audit
from mesh_stack.catalog_service import stop_catalog
from mesh_stack.isolated import isolated_settings
from mesh_stack.products import stop_products

TARGET_RESET_S = 30.0


def _stop_all(settings: MeshSettings) -> None:
    stop_products(settings)
    stop_audit(settings)
    stop_catalog(settings)


def main() -> None:
    settings = isolated_settings("bench-labs", 21800).replaced(labs_dir=ROOT / "labs")
    stack = Stack(settings)
    stack.reset()
    settings = with_own_files(settings)
    runner = LabRunner(settings, say=lambda line: console.print(f"    {line}", highlight=False))
    labs: dict[str, dict[str, float]] = {}
    try:
        for folder in lab_folders(settings.labs_dir):
            console.print(f"[bold]{folder.name}[/]")
            began = time.monotonic()
            loaded = runner.start(folder.name)
            started = time.monotonic() - began
            began = time.monotonic()
            for step in loaded.spec.steps:
                if not runner.solve(step.id).outcome.passed:
                    raise SystemExit(f"{folder.name}: step {step.id} does not pass after its solve")
            solved = time.monotonic() - began
            began = time.monotonic()
            runner.reset()
            labs[folder.name] = {
                "start_s": round(started, 2),
                "solve_s": round(solved, 2),
                "reset_s": round(time.monotonic() - began, 2),
            }
        first = lab_folders(settings.labs_dir)[0].name
        console.print(f"[bold]baseline[/]: a full restart of {first}'s mesh")
        began = time.monotonic()
        _stop_all(settings)
        stack.down()
        runner.start(first)
        restart = round(time.monotonic() - began, 2)
    finally:
        _stop_all(settings)
        stack.reset()

    table = Table("lab", "start", "solve", "reset", "reset / full restart", title="labs")
    for name, figures in labs.items():
        table.add_row(
            name,
            f"{figures['start_s']:.1f} s",
            f"{figures['solve_s']:.1f} s",
            f"{figures['reset_s']:.1f} s",
            f"{figures['reset_s'] / restart:.2f}",
        )
    console.print(table)
    slowest = max(f["reset_s"] for f in labs.values())
    met = slowest < TARGET_RESET_S
    console.print(f"full restart (baseline): {restart:.1f} s; slowest reset {slowest:.1f} s (target < 30 s: {met})")
    write_results(
        "labs",
        {
            "labs": labs,
            "baseline_full_restart_s": restart,
            "slowest_reset_s": slowest,
            "target_reset_s": TARGET_RESET_S,
            "target_met": met,
        },
    )


if __name__ == "__main__":
    main()
