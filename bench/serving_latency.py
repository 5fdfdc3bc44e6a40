"""Freshness and REST latency of playback.events, each against a baseline measured in the same run.

Freshness: events are produced at a steady rate to the running product (`mesh run`, its own process);
for a sample of them, the time from produce until `GET /history/{event_id}` answers 200.
Baseline: Kafka's own end-to-end latency for the same events (produce until a bare consumer has them).
Target (issue #3): freshness p99 <= 5 s.

REST lookup under concurrent load: random `GET /history/{event_id}` from several threads.
Baseline: `GET /health` on the same server under the same load (the HTTP stack without the query).
Access control: the same lookups with a key the product does not know (401, the refusal logged to the
access log), against the same baseline: what authenticating and auditing a request costs alone.
Results: bench/results/serving_latency.json.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from confluent_kafka import Consumer

from bench.common import bench_key, bench_stack, console, percentile, product_process, write_results
from bench.playback_events import INPUT_TOPIC, SCHEMA, event
from mesh_adapters.avro import AvroWireEncoder
from mesh_adapters.kafka import ensure_topics, producer
from mesh_config import MeshSettings
from mesh_testing.products import free_port

ROOT = Path(__file__).resolve().parents[1]


def measure_freshness(
    settings: MeshSettings, http_port: int, rate: int, seconds: int, sample_every: int
) -> tuple[list[float], list[float], list[str]]:
    import json

    from confluent_kafka.schema_registry import SchemaRegistryClient

    registry = SchemaRegistryClient({"url": settings.schema_registry_url})
    encode = AvroWireEncoder(registry, f"{INPUT_TOPIC}-value", json.loads(SCHEMA.read_text()))
    sent_at: dict[str, float] = {}
    kafka_latency: list[float] = []
    rest_latency: list[float] = []
    stop = threading.Event()

    # Baseline: a bare consumer on the input topic, from its end.
    consumer = Consumer(
        {
            **settings.kafka_client(),
            "group.id": f"bench-{uuid.uuid4()}",
            "auto.offset.reset": "latest",
        }
    )
    consumer.subscribe([INPUT_TOPIC])
    consumer.poll(2.0)

    def consume() -> None:
        while not stop.is_set():
            msg = consumer.poll(0.1)
            if msg is None or msg.error():
                continue
            key = msg.key().decode() if msg.key() else ""
            if key in sent_at:
                kafka_latency.append(time.monotonic() - sent_at[key])

    http = httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10, headers=_auth(settings))

    def await_visible(event_id: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if http.get(f"/history/{event_id}").status_code == 200:
                rest_latency.append(time.monotonic() - sent_at[event_id])
                return
            time.sleep(0.05)

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    pollers = ThreadPoolExecutor(max_workers=24)
    send = producer(settings)
    session = str(uuid.uuid4())
    total = rate * seconds
    began = time.monotonic()
    for i in range(total):
        target = began + i / rate
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if i % 40 == 0:
            session = str(uuid.uuid4())
        record = event(i, session)
        event_id = str(record["event_id"])
        sampled = i % sample_every == 0
        if sampled:
            sent_at[event_id] = time.monotonic()
        # Keyed by event id here so the baseline consumer can match it; the product does not care.
        send.produce(INPUT_TOPIC, key=event_id if sampled else session, value=encode(record))
        send.poll(0)
        if sampled:
            pollers.submit(await_visible, event_id)
    send.flush(30)
    pollers.shutdown(wait=True)
    stop.set()
    reader.join(timeout=5)
    consumer.close()
    http.close()
    return rest_latency, kafka_latency, list(sent_at)


_KEYS: dict[str, str] = {}


def _auth(settings: MeshSettings) -> dict[str, str]:
    """The bench consumer's credential (one key per stack, published once)."""
    home = str(settings.home)
    if home not in _KEYS:
        _KEYS[home] = bench_key(settings)
    return {"Authorization": f"Bearer {_KEYS[home]}"}


def measure_load(
    http_port: int,
    path_for: list[str],
    threads: int,
    requests: int,
    headers: dict[str, str] | None = None,
    expect: int = 200,
) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=30, headers=headers or {}) as client:
            mine = []
            for _ in range(n):
                path = random.choice(path_for)
                t0 = time.perf_counter()
                assert client.get(path).status_code == expect
                mine.append(time.perf_counter() - t0)
            with lock:
                latencies.extend(mine)

    with ThreadPoolExecutor(threads) as pool:
        for _ in range(threads):
            pool.submit(worker, requests // threads)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=500, help="events per second")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    with bench_stack("bench-serving", 21900) as settings:
        ensure_topics(settings, [INPUT_TOPIC])
        http_port = free_port()
        with product_process(settings, http_port, free_port()):
            console.print(f"freshness: {args.rate} events/s for {args.seconds} s ...")
            rest, kafka, keys = measure_freshness(settings, http_port, args.rate, args.seconds, sample_every=10)
            lookups = [f"/history/{k}" for k in keys]
            console.print(f"REST lookups: {args.threads} threads, {args.requests} requests ...")
            cold = measure_load(http_port, lookups, args.threads, args.requests, _auth(settings))
            warm = measure_load(http_port, lookups, args.threads, args.requests, _auth(settings))
            health = measure_load(http_port, ["/health"], args.threads, args.requests)
            unknown = {"Authorization": "Bearer mk_aaaaaaaaaaaa_" + "A" * 43}
            refused = measure_load(http_port, lookups, args.threads, args.requests, unknown, expect=401)

    fresh = {"p50_s": percentile(rest, 50), "p99_s": percentile(rest, 99), "samples": len(rest)}
    base = {"p50_s": percentile(kafka, 50), "p99_s": percentile(kafka, 99), "samples": len(kafka)}
    lookup = {
        "cold_p50_ms": percentile(cold, 50) * 1000,
        "cold_p99_ms": percentile(cold, 99) * 1000,
        "warm_p50_ms": percentile(warm, 50) * 1000,
        "warm_p99_ms": percentile(warm, 99) * 1000,
        "health_p50_ms": percentile(health, 50) * 1000,
        "health_p99_ms": percentile(health, 99) * 1000,
        "refused_p50_ms": percentile(refused, 50) * 1000,
        "refused_p99_ms": percentile(refused, 99) * 1000,
    }
    ratio_fresh = fresh["p99_s"] / base["p99_s"] if base["p99_s"] else float("nan")
    console.print(
        f"freshness p50 {fresh['p50_s']:.2f} s, p99 {fresh['p99_s']:.2f} s over {fresh['samples']} samples "
        f"(target p99 <= 5 s: {'met' if fresh['p99_s'] <= 5 else 'MISSED'}); "
        f"Kafka alone p99 {base['p99_s'] * 1000:.0f} ms; ratio {ratio_fresh:.1f}"
    )
    console.print(
        f"REST lookup p99: cold {lookup['cold_p99_ms']:.1f} ms, warm (cached) {lookup['warm_p99_ms']:.1f} ms; "
        f"/health p99 {lookup['health_p99_ms']:.1f} ms; ratio cold/health "
        f"{lookup['cold_p99_ms'] / lookup['health_p99_ms']:.1f}, warm/health "
        f"{lookup['warm_p99_ms'] / lookup['health_p99_ms']:.1f}"
    )
    console.print(
        f"an unknown key refused (401, logged): p99 {lookup['refused_p99_ms']:.1f} ms, "
        f"ratio refused/health {lookup['refused_p99_ms'] / lookup['health_p99_ms']:.1f}"
    )
    write_results(
        "serving_latency",
        {
            "rate_events_per_s": args.rate,
            "seconds": args.seconds,
            "freshness": fresh,
            "kafka_baseline": base,
            "freshness_p99_vs_kafka_p99": ratio_fresh,
            "freshness_target_p99_s": 5.0,
            "freshness_target_met": fresh["p99_s"] <= 5.0,
            "rest_lookup": lookup,
            "threads": args.threads,
            "requests_per_pass": args.requests,
            "lookup_p99_cold_vs_health": lookup["cold_p99_ms"] / lookup["health_p99_ms"],
            "lookup_p99_warm_vs_health": lookup["warm_p99_ms"] / lookup["health_p99_ms"],
            "refused_p99_vs_health": lookup["refused_p99_ms"] / lookup["health_p99_ms"],
        },
    )


if __name__ == "__main__":
    main()
