"""Change data capture, end to end: PostgreSQL commit -> Debezium -> Kafka -> the audit log.

1. Latency at a steady rate: each committed UPDATE is timed until the audit log has committed its
   record (Iceberg snapshot and locked object written). Baseline, measured in the same run: the same
   changes arriving on the CDC topic (what Debezium and Kafka alone cost).
2. The highest change rate the pipeline sustains: the legacy workload offers rising rates while the
   audit log and subscriptions.customers run as their own processes; a rate is sustained when neither
   one's consumer lag grows. Baseline: the rate offered (what the source database produced).

Run: `python bench/cdc_pipeline.py` (a private stack on ports 31400-31410, stopped at the end)."""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

import psycopg
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from bench.common import ROOT, bench_stack, console, percentile, write_results
from mesh_adapters.avro import AvroWireReader
from mesh_audit.service import AuditService, BatchResult
from mesh_config import MeshSettings
from mesh_sources.capture import LEGACY, start_source
from mesh_sources.legacy import LegacyWorkload, install_legacy
from mesh_sources.running import run_workload
from mesh_stack.audit_service import start_audit, stop_audit
from mesh_stack.products import ProductPorts, start_product, stop_products

BASE_PORT = 31400
TOPIC = "cdc.legacy.public.customers"


class Arrivals:
    """Commit times per customer, matched first-in first-out with where each change showed up."""

    def __init__(self) -> None:
        self.pending: dict[str, deque[float]] = defaultdict(deque)
        self.latencies: list[float] = []
        self.lock = threading.Lock()

    def committed(self, key: str, at: float) -> None:
        with self.lock:
            self.pending[key].append(at)

    def arrived(self, key: str, at: float) -> None:
        with self.lock:
            queue = self.pending.get(key)
            if queue:
                self.latencies.append(at - queue.popleft())


def _latency(settings: MeshSettings, rate: float, seconds: float) -> dict[str, Any]:
    via_audit, via_kafka = Arrivals(), Arrivals()
    stop = threading.Event()

    def on_batch(result: BatchResult) -> None:
        now = time.time()
        for record in result.records:
            if record.source == TOPIC and record.operation == "u" and record.entity_key:
                via_audit.arrived(record.entity_key, now)

    audit = AuditService(settings, table_name="mesh.bench_audit_v1", object_prefix="bench-chain/", on_batch=on_batch)
    audit.start()
    audit_thread = threading.Thread(target=audit.run, daemon=True)
    audit_thread.start()

    keys = AvroWireReader(SchemaRegistryClient({"url": settings.schema_registry_url}))

    def watch_topic() -> None:
        consumer = Consumer({**settings.kafka_client(), "group.id": str(uuid.uuid4())})
        end = consumer.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)[1]
        consumer.assign([TopicPartition(TOPIC, 0, end)])
        while not stop.is_set():
            msg = consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                via_kafka.arrived(str(keys(msg.key() or b"")["customer_id"]), time.time())
        consumer.close()

    watcher = threading.Thread(target=watch_topic, daemon=True)
    watcher.start()
    # Measure from a standing start: the audit log has read the initial snapshot's events first.
    deadline = time.monotonic() + 300
    while _group_lag(settings, audit.group_id, LEGACY.topics()) > 0 and time.monotonic() < deadline:
        time.sleep(1.0)
    changes = int(rate * seconds)
    with psycopg.connect(settings.postgres_dsn(settings.legacy_db), autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT customer_id FROM customers ORDER BY customer_id LIMIT 500")]
        start = time.monotonic()
        for i in range(changes):
            key = ids[i % len(ids)]
            conn.execute(
                "UPDATE customers SET marketing_opt_in = NOT marketing_opt_in, updated_at = now() "
                "WHERE customer_id = %s",
                [key],
            )
            at = time.time()
            via_audit.committed(str(key), at)
            via_kafka.committed(str(key), at)
            time.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
    deadline = time.monotonic() + 30
    while len(via_audit.latencies) < changes and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    audit.stop()
    audit_thread.join(timeout=30)
    audit.close()
    watcher.join(timeout=10)

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "count": len(values),
            "p50_s": round(percentile(values, 50), 3),
            "p99_s": round(percentile(values, 99), 3),
            "max_s": round(max(values), 3),
        }

    audit_summary, kafka_summary = summary(via_audit.latencies), summary(via_kafka.latencies)
    return {
        "rate_changes_per_s": rate,
        "changes": changes,
        "commit_to_audit_record": audit_summary,
        "baseline_commit_to_cdc_topic": kafka_summary,
        "ratio_p99_audit_vs_cdc_topic": round(audit_summary["p99_s"] / kafka_summary["p99_s"], 2),
        "target_p99_s": 2.0,
    }


def _group_lag(settings: MeshSettings, group: str, topics: list[str]) -> int:
    consumer = Consumer({**settings.kafka_client(), "group.id": group})
    try:
        partitions = [TopicPartition(t, 0) for t in topics]
        committed = consumer.committed(partitions, timeout=10)
        lag = 0
        for tp in committed:
            high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)[1]
            lag += high - max(tp.offset, 0)
        return lag
    finally:
        consumer.close()


WORKLOAD_MAX = 800


@dataclass
class _Counted:
    row_changes: int = 0


class BulkUpdates:
    """Set-based changes: each step updates 200 customers in one transaction (200 change events)."""

    ROWS = 200

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.ids = [r[0] for r in self.conn.execute("SELECT customer_id FROM customers ORDER BY customer_id")]
        self.counts = _Counted()
        self.at = 0

    def step(self) -> int:
        chunk = [self.ids[(self.at + i) % len(self.ids)] for i in range(self.ROWS)]
        self.at += self.ROWS
        changed = self.conn.execute(
            "UPDATE customers SET marketing_opt_in = NOT marketing_opt_in, updated_at = now() "
            "WHERE customer_id = ANY(%s)",
            [chunk],
        ).rowcount
        self.counts.row_changes += changed
        return changed


def _sustained(settings: MeshSettings, rates: list[int], seconds: float) -> dict[str, Any]:
    start_audit(settings)
    start_product(settings, ROOT / "products" / "subscriptions.customers", ProductPorts(31490, 31491))
    cdc_topics = LEGACY.topics()
    groups = {
        "audit log": ("mesh.audit.mesh.audit_log_v1", cdc_topics),
        "subscriptions.customers": ("urn:mesh:subscriptions:customers:v1", [TOPIC]),
    }
    steps: list[dict[str, Any]] = []
    try:
        with LegacyWorkload.connect(settings.postgres_dsn(settings.legacy_db), seed=3) as workload:
            bulk = BulkUpdates(settings.postgres_dsn(settings.legacy_db))
            for rate in rates:
                # The business workload is realistic but one Python thread offers ~1k changes/s at most;
                # beyond that, set-based updates (200 customers per transaction) load the pipeline.
                source = workload if rate <= WORKLOAD_MAX else bulk
                before = source.counts.row_changes
                lags: dict[str, list[int]] = {name: [] for name in groups}
                done = threading.Event()

                def sample(lags: dict[str, list[int]] = lags, done: threading.Event = done) -> None:
                    while not done.wait(1.0):
                        for name, (group, topics) in groups.items():
                            lags[name].append(_group_lag(settings, group, topics))

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                began = time.monotonic()
                run_workload(source.step, rate=rate, duration_s=seconds)
                elapsed = time.monotonic() - began
                done.set()
                sampler.join(timeout=30)
                offered = (source.counts.row_changes - before) / elapsed
                # Sustained: the lag at the end is under two seconds of traffic, and the second half
                # of the step did not grow it.
                verdicts = {}
                for name, values in lags.items():
                    half = values[len(values) // 2 :] or [0]
                    growing = half[-1] - half[0] > offered
                    verdicts[name] = {
                        "final_lag": values[-1] if values else None,
                        "max_lag": max(values or [0]),
                        "growing": growing,
                    }
                sustained = all(not v["growing"] and (v["final_lag"] or 0) <= 2 * offered for v in verdicts.values())
                steps.append(
                    {
                        "source": "legacy workload" if source is workload else "bulk updates",
                        "offered_changes_per_s": round(offered, 1),
                        "sustained": sustained,
                        "lag": verdicts,
                    }
                )
                console.print(
                    f"  offered {offered:7.1f} changes/s → {'sustained' if sustained else 'lag grows'}  {verdicts}"
                )
                time.sleep(5)  # drain before the next step
                if not sustained:
                    break
    finally:
        stop_products(settings)
        stop_audit(settings)
    kept = [float(s["offered_changes_per_s"]) for s in steps if s["sustained"]]
    return {"steps": steps, "highest_sustained_changes_per_s": max(kept) if kept else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50, help="changes per second for the latency run")
    parser.add_argument("--seconds", type=float, default=30, help="length of the latency run and of each rate step")
    parser.add_argument("--rates", default="200,400,800,1600,3200,6400", help="rates offered, in order")
    args = parser.parse_args()
    with bench_stack("bench-cdc", BASE_PORT) as settings:
        start_source(LEGACY, settings, lambda dsn: install_legacy(dsn, customers=10_000))
        console.print(f"[bold]CDC latency[/] at {args.rate:.0f} changes/s for {args.seconds:.0f} s")
        latency = _latency(settings, args.rate, args.seconds)
        console.print(latency)
        console.print("[bold]Highest sustained change rate[/] (audit log and subscriptions.customers running)")
        sustained = _sustained(settings, [int(r) for r in args.rates.split(",")], args.seconds)
        console.print(f"highest sustained: {sustained['highest_sustained_changes_per_s']} changes/s")
    write_results("cdc_pipeline", {"latency": latency, "throughput": sustained})


if __name__ == "__main__":
    main()
