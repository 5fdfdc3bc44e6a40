"""The observation port: what the product can say about its own health, as JSON, as Prometheus
metrics, and as periodic events on `mesh.observations` for the catalog."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Protocol

from confluent_kafka import Producer
from prometheus_client import CollectorRegistry, Counter, Gauge

from mesh_sdk.observe.outcome import BatchOutcome, Defect
from mesh_sdk.observe.quality import TableCheck
from mesh_sdk.spec.product import DataProduct
from mesh_sdk.storage.snapshots import Snapshot

log = logging.getLogger(__name__)
OBSERVATIONS_TOPIC = "mesh.observations"


class ObservedTable(Protocol):
    """What the observation port reads from a served table (the serving layer's table reader)."""

    @property
    def props(self) -> Mapping[str, Any]: ...

    @property
    def cache_hits(self) -> int: ...

    @property
    def cache_misses(self) -> int: ...

    def aggregate(self, sql_template: str, snapshot_id: int | None = None) -> Any: ...

    def snapshots(self) -> list[Snapshot]: ...


class Observer:
    def __init__(
        self,
        product: DataProduct,
        reader: ObservedTable,
        checks: list[TableCheck],
        *,
        tables: Mapping[str, ObservedTable] | None = None,
        freshness: Callable[[], datetime | None] | None = None,
    ) -> None:
        self.product = product
        self.reader = reader
        self.checks = checks
        self.tables = dict(tables or {})  # the table each check names, when there are several
        self._newest = freshness or self._newest_ingested
        self.registry = CollectorRegistry()
        self.consumed = Counter("mesh_events_consumed", "input events read", ["product"], registry=self.registry)
        self.written = Counter(
            "mesh_rows_written", "rows committed to the history", ["product"], registry=self.registry
        )
        self.duplicates = Counter(
            "mesh_duplicates_dropped", "events dropped as duplicates", ["product"], registry=self.registry
        )
        self.skipped = Counter(
            "mesh_events_skipped", "input events read and passed by on purpose", ["product"], registry=self.registry
        )
        self.dead = Counter(
            "mesh_dead_letters",
            "events sent to the dead-letter topic",
            ["product", "defect"],
            registry=self.registry,
        )
        self.batches = Counter("mesh_batches_committed", "snapshots committed", ["product"], registry=self.registry)
        self.freshness = Gauge("mesh_freshness_seconds", "age of the newest row", ["product"], registry=self.registry)
        self.lag = Gauge("mesh_consumer_lag", "input events not yet committed", ["product"], registry=self.registry)
        self.quality_gauge = Gauge(
            "mesh_quality_check_passed",
            "1 when a contract check passes",
            ["product", "check"],
            registry=self.registry,
        )
        self.slo_gauge = Gauge("mesh_slo_met", "1 when the SLO is met", ["product", "slo"], registry=self.registry)
        for defect in Defect:
            self.dead.labels(product.id, defect.value)
        self.totals: dict[str, int] = {"consumed": 0, "written": 0, "duplicates": 0, "skipped": 0}
        self.dead_totals: dict[str, int] = {d.value: 0 for d in Defect}
        self.last_commit: datetime | None = None
        self.lag_by_partition: dict[str, int] = {}
        self._quality: list[dict[str, Any]] = []
        self._quality_at: float = 0.0

    def record_batch(self, outcome: BatchOutcome) -> None:
        pid = self.product.id
        self.consumed.labels(pid).inc(outcome.consumed)
        self.written.labels(pid).inc(outcome.written)
        self.duplicates.labels(pid).inc(outcome.duplicates)
        self.totals["consumed"] += outcome.consumed
        self.totals["written"] += outcome.written
        self.totals["duplicates"] += outcome.duplicates
        self.skipped.labels(pid).inc(outcome.skipped)
        self.totals["skipped"] += outcome.skipped
        for defect, n in outcome.dead.items():
            if n:
                self.dead.labels(pid, defect.value).inc(n)
                self.dead_totals[defect.value] += n
        if outcome.snapshot_id is not None:
            self.batches.labels(pid).inc()
            self.last_commit = datetime.now(UTC)
            self._quality_at = 0.0  # the table changed: the next report reruns the checks

    def record_lag(self, behind: Mapping[str, Mapping[int, int]]) -> None:
        """Input events not yet in the table, per partition, as the ingest last asked the broker."""
        total = 0
        for topic, parts in behind.items():
            for partition, waiting in parts.items():
                self.lag_by_partition[f"{topic}[{partition}]"] = waiting
                total += waiting
        self.lag.labels(self.product.id).set(total)

    def _newest_ingested(self) -> datetime | None:
        if "ingested_at" not in self.reader.props:
            return None
        newest = self.reader.aggregate("SELECT max(ingested_at) FROM {table}")
        return newest if isinstance(newest, datetime) else None

    def freshness_seconds(self) -> float | None:
        """Age of the newest data the product reflects."""
        newest = self._newest()
        if newest is None:
            return None
        age = (datetime.now(UTC) - newest).total_seconds()
        self.freshness.labels(self.product.id).set(age)
        return age

    def quality(self, max_age_s: float = 30.0) -> list[dict[str, Any]]:
        """The contract's table checks, rerun at most every `max_age_s` seconds."""
        if time.monotonic() - self._quality_at < max_age_s and self._quality:
            return self._quality
        results = []
        for check in self.checks:
            try:
                value = self.tables.get(check.port or "", self.reader).aggregate(check.sql)
                passed = value is not None and check.passes(float(value))
                results.append(
                    {"check": check.name, "description": check.description, "value": value, "passed": passed}
                )
            except Exception as exc:
                results.append(
                    {
                        "check": check.name,
                        "description": check.description,
                        "value": None,
                        "passed": False,
                        "error": str(exc),
                    }
                )
            self.quality_gauge.labels(self.product.id, check.name).set(1 if results[-1]["passed"] else 0)
        self._quality, self._quality_at = results, time.monotonic()
        return results

    def report(self) -> dict[str, Any]:
        slos = self.product.descriptor.slos
        freshness = self.freshness_seconds()
        fresh_ok = freshness is not None and freshness <= slos.freshness_seconds
        self.slo_gauge.labels(self.product.id, "freshness").set(1 if fresh_ok else 0)
        snapshots = self.reader.snapshots()
        return {
            "product": self.product.id,
            "observed_at": datetime.now(UTC).isoformat(),
            "freshness_seconds": freshness,
            "volumes": dict(self.totals),
            "dead_letters": dict(self.dead_totals),
            "consumer_lag": dict(self.lag_by_partition),
            "snapshots": [asdict(s) | {"committed_at": s.committed_at.isoformat()} for s in snapshots[-20:]],
            "snapshot_count": len(snapshots),
            "total_rows": snapshots[-1].total_rows if snapshots else 0,
            "quality": self.quality(),
            "slos": {
                "freshness": {
                    "objective_seconds": slos.freshness_seconds,
                    "actual_seconds": freshness,
                    "met": fresh_ok,
                },
                "availability": {"objective": slos.availability},
            },
            "cache": {"hits": self.reader.cache_hits, "misses": self.reader.cache_misses},
        }


class ObservationPublisher:
    """Publishes the report on `mesh.observations` every `interval_s`, keyed by product id."""

    def __init__(self, observer: Observer, producer: Producer, interval_s: float = 15.0) -> None:
        self.observer = observer
        self.producer = producer
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="observations", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # a runtime stopped without starting (a benchmark's) has none
            self._thread.join(timeout=10)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def publish_once(self) -> None:
        report = self.observer.report()
        self.producer.produce(
            OBSERVATIONS_TOPIC,
            key=self.observer.product.id.encode(),
            value=json.dumps(report, default=str).encode(),
        )
        self.producer.flush(10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.publish_once()
            except Exception as exc:
                log.warning("could not publish observations: %s", exc)
