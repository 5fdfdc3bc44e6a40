"""Shared by the benchmarks: a private stack, a results file, and percentiles."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from mesh_config import MeshSettings
from mesh_stack import Stack
from mesh_stack.isolated import isolated_settings
from mesh_stack.products import ProductPorts, start_product, stop_products
from mesh_testing.products import publish_grant

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
console = Console()


@contextmanager
def bench_stack(name: str, base_port: int, fresh: bool = True) -> Iterator[MeshSettings]:
    """A stack of the benchmark's own, started (from empty state when `fresh`) and stopped after."""
    stack = Stack(isolated_settings(name, base_port))
    if fresh:
        stack.reset()
    console.print(f"starting a private stack for the benchmark ({stack.settings.home}) ...")
    stack.up()
    try:
        yield stack.settings
    finally:
        stack.down()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def write_results(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        **result,
    }
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    console.print(f"results: {path.relative_to(ROOT)}")
    return path


@contextmanager
def product_process(settings: MeshSettings, http_port: int, sql_port: int) -> Iterator[str]:
    """playback.events as `mesh start` runs it (its own process), stopped after; yields its base URL."""
    folder = ROOT / "products" / "playback.events"
    try:
        yield start_product(settings, folder, ProductPorts(http_port, sql_port))
    finally:
        stop_products(settings)


BENCH_CONSUMER = "bench"


def bench_key(settings: MeshSettings) -> str:
    """A key of the consumer `bench`, granted playback.events on the bench's own stack (no catalog)."""
    return publish_grant(settings, BENCH_CONSUMER, ["urn:mesh:playback:events:v1"])
