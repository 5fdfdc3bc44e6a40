"""Ingest throughput of a data product against a bare baseline, on the same topic, in one run.

Baselines, each a bare confluent-kafka consumer that decodes the same Avro events and writes Parquet
files with pyarrow (no validation, no deduplication, no Iceberg, no S3, no output stream):
  - idiomatic: decoding with confluent-kafka's own AvroDeserializer, as a hand-written consumer would
    (the issue's baseline);
  - lean: decoding with the product's own fast decoder, so the ratio shows the cost of everything else.
Product: the SDK's ingestion engine for playback.events: decode, domain logic, contract rules,
deduplication, an Iceberg snapshot with the offsets per batch on S3, and the output stream's transaction.
Target (issue #3): product/baseline >= 0.7. Results: bench/results/ingest_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from bench.common import bench_stack, console, write_results
from bench.playback_events import INPUT_TOPIC, SCHEMA, fill_topic
from mesh_adapters.avro import AvroWireDecoder
from mesh_config import MeshSettings
from mesh_sdk.runtime.clients import Clients
from mesh_sdk.runtime.options import RuntimeOptions
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sdk.spec.product import load_product
from mesh_testing.products import free_port

ROOT = Path(__file__).resolve().parents[1]


def baseline(settings: MeshSettings, events: int, batch: int, lean: bool) -> float:
    registry = SchemaRegistryClient({"url": settings.schema_registry_url})
    if lean:
        decode: Callable[[bytes], dict[str, Any]] = AvroWireDecoder(registry, json.loads(SCHEMA.read_text()))
    else:
        deserializer = AvroDeserializer(registry, SCHEMA.read_text())
        ctx = SerializationContext(INPUT_TOPIC, MessageField.VALUE)

        def decode(value: bytes) -> dict[str, Any]:
            return deserializer(value, ctx)  # type: ignore[no-any-return]

    consumer = Consumer(
        {
            **settings.kafka_client(),
            "group.id": f"bench-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    partitions = consumer.list_topics(INPUT_TOPIC, timeout=10).topics[INPUT_TOPIC].partitions
    consumer.assign([TopicPartition(INPUT_TOPIC, p, OFFSET_BEGINNING) for p in partitions])
    out = Path(tempfile.mkdtemp(prefix="bench-parquet-"))
    done, files = 0, 0
    began = time.perf_counter()
    while done < events:
        rows = []
        for msg in consumer.consume(batch, timeout=1.0):
            if msg.error():
                continue
            rows.append(decode(msg.value()))
        if rows:
            for row in rows:  # confluent-kafka hands uuids over as uuid.UUID
                row["event_id"], row["session_id"] = str(row["event_id"]), str(row["session_id"])
            pq.write_table(pa.Table.from_pylist(rows), out / f"part-{files:05}.parquet")
            files += 1
            done += len(rows)
    elapsed = time.perf_counter() - began
    consumer.close()
    return events / elapsed


def product(settings: MeshSettings, events: int, batch: int) -> tuple[float, int]:
    runtime = SourceAlignedRuntime(
        load_product(ROOT / "products" / "playback.events"),
        settings,
        RuntimeOptions(http_port=free_port(), sql_port=free_port(), batch_size=batch, batch_interval_s=1.0),
        Clients.connect(settings),
    )
    ingestor = runtime.ingestor
    try:
        ingestor.resume(runtime.partitions)
        consumed, snapshots = 0, 0
        began = time.perf_counter()
        while consumed < events:
            outcome = ingestor.step()
            consumed += outcome.consumed
            snapshots += outcome.snapshot_id is not None
        elapsed = time.perf_counter() - began
    finally:  # its Kafka clients would otherwise outlive the benchmark's stack
        runtime.stop()
    return events / elapsed, snapshots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    with bench_stack("bench-ingest", 21800) as settings:
        console.print(f"filling {INPUT_TOPIC} with {args.events} events ...")
        fill_topic(settings, args.events)
        console.print("baseline (idiomatic): bare consumer + confluent-kafka AvroDeserializer + Parquet ...")
        idiomatic = baseline(settings, args.events, args.batch, lean=False)
        console.print(f"  {idiomatic:,.0f} events/s")
        console.print("baseline (lean): bare consumer + the product's fast decoder + Parquet ...")
        lean = baseline(settings, args.events, args.batch, lean=True)
        console.print(f"  {lean:,.0f} events/s")
        console.print("product: SDK ingestion into Iceberg with offsets, dedupe, contract, output stream ...")
        ours, snapshots = product(settings, args.events, args.batch)
        console.print(f"  {ours:,.0f} events/s in {snapshots} snapshots")
    ratio, ratio_lean = ours / idiomatic, ours / lean
    verdict = "met" if ratio >= 0.7 else "MISSED"
    console.print(f"[bold]ratio product/idiomatic baseline = {ratio:.2f}[/] (target >= 0.7: {verdict})")
    console.print(f"ratio product/lean baseline = {ratio_lean:.2f} (the cost of validation, dedupe, Iceberg, stream)")
    write_results(
        "ingest_throughput",
        {
            "events": args.events,
            "batch": args.batch,
            "baseline_idiomatic_events_per_s": round(idiomatic),
            "baseline_lean_events_per_s": round(lean),
            "product_events_per_s": round(ours),
            "ratio_vs_idiomatic": round(ratio, 3),
            "ratio_vs_lean": round(ratio_lean, 3),
            "snapshots": snapshots,
            "target_ratio": 0.7,
            "target_met": ratio >= 0.7,
        },
    )


if __name__ == "__main__":
    main()
