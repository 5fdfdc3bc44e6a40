"""The main job, measured: from `mesh demo` to the first recommendation served, the memory of the whole
running mesh, and freshness from a playback event to engagement.viewing's daily aggregate.

One run, on a private stack (its own ports and state), download caches warm, each figure beside a
baseline measured in the same run:
  - time to the first recommendation: `mesh demo` launched on empty state, as a newcomer runs it (stack,
    change capture, audit log, seven products, traffic, training), until `GET /recommendations` on
    recommendations.next-title answers with a row. Baseline: the stack alone started cold (`mesh up`).
  - memory: the resident memory of every process of the running mesh after the demo (stack, audit log,
    seven products). Baseline: the stack alone, measured after its cold start.
  - freshness: while playback traffic flows, probe events (each from a viewer of its own) are sent one
    at a time; the time until each is in engagement.viewing's `daily` (over REST) against the time until
    it is in playback.events' `history`, the source-aligned product that it passes through first.
Results: printed, and written to bench/results/mesh_demo.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from rich.table import Table

from bench.common import ROOT, console, percentile, write_results
from bench.playback_events import INPUT_TOPIC, SCHEMA
from mesh_client.analyst import key_path
from mesh_config import MeshSettings
from mesh_stack.isolated import isolated_settings

BASE_PORT = 21800
DEMO_SECONDS = 30
PROBES = 12
PROBE_TIMEOUT_S = 120.0
MESH = str(Path(sys.executable).parent / "mesh")


def _environment(settings: MeshSettings) -> dict[str, str]:
    """The environment that points `mesh` at the private stack (and its products at free ports)."""
    names = [
        "postgres_port",
        "s3_port",
        "s3_master_port",
        "s3_volume_port",
        "s3_filer_port",
        "s3_admin_port",
        "kafka_port",
        "kafka_controller_port",
        "registry_port",
        "registry_management_port",
        "connect_port",
        "product_catalog_port",
    ]
    env = {f"MESH_{n.upper()}": str(getattr(settings, n)) for n in names}
    env |= {
        "MESH_HOME": str(settings.home),
        "MESH_PRODUCTS_HTTP_PORT": str(BASE_PORT + 20),
        "MESH_PRODUCTS_SQL_PORT": str(BASE_PORT + 40),
    }
    return os.environ | env


def _mesh(env: dict[str, str], *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MESH, *args], env=env, capture_output=True, text=True, timeout=timeout_s, check=True)


def _resident_memory(env: dict[str, str]) -> dict[str, int]:
    rows = json.loads(_mesh(env, "status", "--json").stdout)
    return {r["name"]: int(r["rss_bytes"] or 0) for r in rows if r["health"] in ("healthy", "ready", "running")}


def _stack_alone(env: dict[str, str]) -> tuple[float, dict[str, int]]:
    _mesh(env, "reset", "--yes")
    started = time.monotonic()
    _mesh(env, "up")
    seconds = time.monotonic() - started
    time.sleep(5)  # let the JVMs settle before reading memory
    memory = _resident_memory(env)
    _mesh(env, "down")
    return seconds, memory


def _first_recommendation(url: str, started: float, stop: threading.Event, found: list[float]) -> None:
    # The observation port is open: the demo's analyst gets its key only once the demo is done.
    while not stop.is_set():
        try:
            report = httpx.get(f"{url}/observations", timeout=5).json()
            if report.get("total_rows"):
                found.append(time.monotonic() - started)
                return
        except (httpx.HTTPError, ValueError):
            pass  # not started yet
        stop.wait(1)


# How the lines of `mesh demo`'s output that end a phase begin.
MILESTONES = {
    "The stack is up": "stack healthy",
    "✓ content:": "change capture running",
    "✓ audit log running": "audit log running",
    "subscriptions.subscriptions is running": "source-aligned products running",
    "history done:": "viewing history sent",
    "✓ playback.events ingested": "viewing history ingested",
    "recommendations.next-title is running": "derived products running",
    "done:": "live playback traffic sent",
    "✓ data reached every product": "data through every product, model trained",
    "Look around": "tour printed",
}


def _follow(demo: subprocess.Popen[str], started: float, log: Path, milestones: dict[str, float]) -> None:
    """Copy the demo's output to the log with the seconds since launch, noting the milestones."""
    assert demo.stdout is not None
    with log.open("w") as out:
        for line in demo.stdout:
            elapsed = time.monotonic() - started
            out.write(f"{elapsed:7.1f}  {line}")
            for marker, phase in MILESTONES.items():
                if line.strip().startswith(marker) and phase not in milestones:
                    milestones[phase] = round(elapsed, 1)


def _demo(env: dict[str, str], log: Path) -> tuple[float, float, dict[str, float]]:
    """`mesh demo` on empty state; returns the seconds to the first recommendation and to the end, and
    when each phase ended."""
    _mesh(env, "reset", "--yes")
    recommender = f"http://127.0.0.1:{BASE_PORT + 20 + 6}"
    stop, found, milestones = threading.Event(), list[float](), dict[str, float]()
    started = time.monotonic()
    demo = subprocess.Popen(
        [MESH, "demo", "--duration", str(DEMO_SECONDS)],
        env=env | {"COLUMNS": "160"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    threads = [
        threading.Thread(target=_first_recommendation, args=(recommender, started, stop, found)),
        threading.Thread(target=_follow, args=(demo, started, log, milestones)),
    ]
    for thread in threads:
        thread.start()
    with console.status("mesh demo is running (its output: bench/results/mesh_demo.log)") as status:
        while demo.poll() is None:
            elapsed = time.monotonic() - started
            phase = max(milestones, key=lambda m: milestones[m], default="starting")
            first = f", first recommendation after {found[0]:.0f} s" if found else ""
            status.update(f"mesh demo: {elapsed:.0f} s, {phase}{first}")
            time.sleep(1)
            if elapsed > 1200:
                demo.kill()
                raise RuntimeError(f"mesh demo did not finish in 20 minutes; see {log}")
    finished = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    if demo.returncode != 0:
        raise RuntimeError(f"mesh demo failed ({demo.returncode}); see {log}")
    if not found:
        raise RuntimeError(f"mesh demo finished but no recommendation is served; see {log}")
    return found[0], finished, milestones


def _probe_event(customer_id: int, title_id: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "session_id": str(uuid.uuid4()),
        "customer_id": customer_id,
        "title_id": title_id,
        "event_type": "PLAY",
        "position_ms": 0,
        "occurred_at": datetime.now(UTC),
        "device": "TV",
        "country": "NL",
        "app_version": "7.4.1",
    }


def _until_present(url: str, key: str, customer_id: int, sent: float) -> float | None:
    deadline = sent + PROBE_TIMEOUT_S
    headers = {"Authorization": f"Bearer {key}"}
    while time.monotonic() < deadline:
        params = {"customer_id": customer_id, "limit": 1}
        items = httpx.get(url, params=params, headers=headers, timeout=10).json().get("items")
        if items:
            return time.monotonic() - sent
        time.sleep(0.2)
    return None


def _freshness(settings: MeshSettings, env: dict[str, str]) -> dict[str, list[float]]:
    """Probe events sent while 100 playback events per second flow; seconds until each is served."""
    http = BASE_PORT + 20
    playback, engagement = f"http://127.0.0.1:{http}/history", f"http://127.0.0.1:{http + 4}/daily"
    serializer = AvroSerializer(SchemaRegistryClient({"url": settings.schema_registry_url}), SCHEMA.read_text())
    producer = Producer({**settings.kafka_client(), "acks": "all", "linger.ms": 0})
    context = SerializationContext(INPUT_TOPIC, MessageField.VALUE)
    seconds = PROBES * 8 + 30
    traffic = subprocess.Popen(
        [MESH, "generate", "playback", "--rate", "100", "--duration", str(seconds)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    latencies: dict[str, list[float]] = {"playback.events history": [], "engagement.viewing daily": []}
    key = key_path(settings).read_text()  # the demo analyst's, issued at the end of mesh demo
    try:
        time.sleep(5)  # the traffic is flowing
        for i in range(PROBES):
            customer = 900_000_000 + int(time.time()) % 1_000_000 * 100 + i  # a viewer nobody else is
            event = _probe_event(customer, title_id=1 + i)
            producer.produce(INPUT_TOPIC, key=event["session_id"], value=serializer(event, context))
            producer.flush(10)
            sent = time.monotonic()
            with ThreadPoolExecutor(1) as pool:
                in_engagement = pool.submit(_until_present, engagement, key, customer, sent)
                in_playback = _until_present(playback, key, customer, sent)
                engaged = in_engagement.result()
            console.print(
                f"  probe {i + 1}/{PROBES}: playback.events {in_playback or float('nan'):.1f} s, "
                f"engagement.viewing {engaged or float('nan'):.1f} s",
                highlight=False,
            )
            if in_playback is not None and engaged is not None:
                latencies["playback.events history"].append(in_playback)
                latencies["engagement.viewing daily"].append(engaged)
            time.sleep(max(0.0, 8 - (time.monotonic() - sent)))
    finally:
        traffic.terminate()
        traffic.wait(timeout=30)
    return latencies


def main() -> None:
    settings = isolated_settings("bench-mesh-demo", BASE_PORT)
    env = _environment(settings)
    log = ROOT / "bench" / "results" / "mesh_demo.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        console.print("[bold]baseline[/]: the stack alone, cold (`mesh up` on empty state)")
        stack_s, stack_memory = _stack_alone(env)
        console.print(f"  healthy after {stack_s:.1f} s, {sum(stack_memory.values()) / 2**20:.0f} MiB resident")
        console.print(f"[bold]mesh demo[/] on empty state, {DEMO_SECONDS} s of traffic")
        first_s, tour_s, phases = _demo(env, log)
        for phase, at in phases.items():
            console.print(f"  {at:6.1f} s  {phase}", highlight=False)
        console.print(f"  first recommendation after {first_s:.1f} s; the demo ended after {tour_s:.1f} s")
        card = httpx.get(f"http://127.0.0.1:{BASE_PORT + 26}/", timeout=30).json()["derivation"]["model_card"]
        model = card.get("evaluation") or {}
        if model:
            console.print(
                f"  first model: precision@10 {model['model_precision']:.3f} against the popularity baseline's "
                f"{model['baseline_precision']:.3f}, recall@10 {model['model_recall']:.3f} against "
                f"{model['baseline_recall']:.3f}",
                highlight=False,
            )
        listed = httpx.get(f"{settings.product_catalog_endpoint}/products", timeout=30).json()
        available = sorted(p["id"] for p in listed if p["status"] == "available")
        console.print(f"  the data product catalog lists {len(available)} available products", highlight=False)
        time.sleep(5)
        mesh_memory = _resident_memory(env)
        console.print("[bold]freshness[/]: probe events while 100 playback events/s flow")
        latencies = _freshness(settings, env)
    finally:
        subprocess.run([MESH, "down"], env=env, capture_output=True, timeout=300, check=False)

    stack_rss, mesh_rss = sum(stack_memory.values()), sum(mesh_memory.values())
    fresh = {
        name: {
            "probes": len(values),
            "median_s": round(statistics.median(values), 2) if values else None,
            "p90_s": round(percentile(values, 90), 2) if values else None,
            "max_s": round(max(values), 2) if values else None,
        }
        for name, values in latencies.items()
    }
    source, derived = fresh["playback.events history"], fresh["engagement.viewing daily"]
    freshness_ratio = derived["median_s"] / source["median_s"] if derived["median_s"] and source["median_s"] else None
    table = Table(title="The main job, measured (ratios against the baseline of the same run)")
    for column in ("measure", "baseline", "figure", "ratio"):
        table.add_column(column)
    table.add_row(
        "time to first recommendation",
        f"stack cold start {stack_s:.1f} s",
        f"{first_s:.1f} s",
        f"{first_s / stack_s:.1f}x",
    )
    table.add_row(
        "resident memory",
        f"stack alone {stack_rss / 2**20:.0f} MiB",
        f"whole mesh {mesh_rss / 2**20:.0f} MiB",
        f"{mesh_rss / stack_rss:.2f}x",
    )
    table.add_row(
        "freshness (median)",
        f"in playback.events {source['median_s']} s",
        f"in engagement daily {derived['median_s']} s (p90 {derived['p90_s']} s)",
        f"{freshness_ratio:.1f}x" if freshness_ratio else "-",
    )
    console.print(table)
    write_results(
        "mesh_demo",
        {
            "demo_traffic_seconds": DEMO_SECONDS,
            "baseline_stack_cold_start_s": round(stack_s, 1),
            "first_recommendation_s": round(first_s, 1),
            "demo_ended_s": round(tour_s, 1),
            "demo_phases_ended_s": phases,
            "first_recommendation_vs_stack_start": round(first_s / stack_s, 2),
            "memory_bytes": {"stack_alone": stack_memory, "whole_mesh": mesh_memory},
            "memory_total_bytes": {"stack_alone": stack_rss, "whole_mesh": mesh_rss},
            "memory_ratio": round(mesh_rss / stack_rss, 2),
            "first_model_evaluation": model or card.get("not_evaluated_because"),
            "catalog_lists_available": available,
            "freshness": fresh,
            "freshness_ratio_engagement_vs_playback": round(freshness_ratio, 2) if freshness_ratio else None,
            "latencies_s": {k: [round(v, 2) for v in vs] for k, vs in latencies.items()},
        },
    )


if __name__ == "__main__":
    main()
