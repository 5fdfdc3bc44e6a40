"""Each fault of the catalogue, run as `mesh chaos run` runs it, on a mesh of the benchmark's own: the
seconds from the end of the injection to the steady state back, against the fault's bound, with the
accounting of every message sent meanwhile. Baseline, measured in the same run on the same mesh:
how long the same steady-state probes take to pass on a healthy mesh (no fault), which is the floor
any recovery is measured against. Target (issue #17): every fault recovers within its bound, with
nothing lost. Results: bench/results/faults.json.
"""

from __future__ import annotations

import time

from rich.table import Table

from bench.common import ROOT, console, write_results
from mesh_chaos.experiments import Fault, catalogue
from mesh_chaos.runner import bring_up, run_fault
from mesh_config import MeshSettings
from mesh_labs.sandbox import private_mesh
from mesh_stack.isolated import isolated_settings

DURATION_S = 15.0  # seconds of traffic (and of the faults that last)


def _healthy_probes(settings: MeshSettings, fault: Fault) -> float:
    """The fault's steady-state probes alone, each called as Chaos Toolkit calls it, on a mesh with no
    fault: how long confirming a steady state takes when nothing is wrong."""
    import importlib

    bring_up(settings, fault, lambda _: None)
    configuration = {
        "mesh": settings.model_dump(mode="json", exclude_defaults=True),
        "state_file": str(settings.home / "chaos" / f"{fault.name}.baseline.json"),
        "fault_seconds": DURATION_S,
    }
    began = time.monotonic()
    for probe in fault.experiment["steady-state-hypothesis"]["probes"]:
        provider = probe["provider"]
        function = getattr(importlib.import_module(provider["module"]), provider["func"])
        if function(**provider.get("arguments", {}), configuration=configuration) != probe["tolerance"]:
            raise SystemExit(f"{fault.name}: {probe['name']} does not hold on a healthy mesh")
    return time.monotonic() - began


def main() -> None:
    results: dict[str, dict[str, object]] = {}
    with private_mesh(isolated_settings("bench-faults", 22400)) as settings:
        for fault in catalogue(ROOT / "faults"):
            console.print(f"[bold]{fault.name}[/]: {fault.title}")
            healthy = _healthy_probes(settings, fault)
            verdict = run_fault(settings, fault, DURATION_S, say=lambda line: console.print(f"    {line}"))
            results[fault.name] = {
                "healthy_probes_s": round(healthy, 1),
                "recovered_in_s": verdict.recovered_in_s,
                "bound_s": verdict.recover_within_s,
                "passed": verdict.passed,
                "evidence": verdict.evidence,
            }

    table = Table("fault", "healthy probes", "recovered in", "recovery / healthy", "bound", "verdict", title="faults")
    for name, r in results.items():
        back = r["recovered_in_s"]
        healthy = float(r["healthy_probes_s"])  # type: ignore[arg-type]
        table.add_row(
            name,
            f"{healthy:.1f} s",
            f"{back} s" if back is not None else "never",
            f"{float(back) / healthy:.1f}" if back is not None and healthy else "-",  # type: ignore[arg-type]
            f"{r['bound_s']} s",
            "[green]RECOVERED[/]" if r["passed"] else "[red]NOT RECOVERED[/]",
        )
    console.print(table)
    met = all(r["passed"] for r in results.values())
    console.print(f"target: every fault recovers within its bound, nothing lost: {'met' if met else 'NOT met'}")
    write_results("faults", {"duration_s": DURATION_S, "faults": results, "target_met": met})


if __name__ == "__main__":
    main()
