"""The composition root of a product process: `mesh run products/<name>` builds everything here from
the product folder and the settings, and nowhere else."""

from __future__ import annotations

import json
import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import uvicorn
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastapi import FastAPI
from pyiceberg.table import Table

from mesh_adapters import kafka
from mesh_adapters.avro import AvroWireDecoder, AvroWireEncoder
from mesh_adapters.lakehouse import duckdb_connection, iceberg_catalog
from mesh_config import MeshSettings
from mesh_sdk import graphql
from mesh_sdk.history import ensure_table
from mesh_sdk.ingest import BatchOutcome, Ingestor
from mesh_sdk.observe import OBSERVATIONS_TOPIC, ObservationPublisher, Observer
from mesh_sdk.policy import PolicyState
from mesh_sdk.product import DataProduct
from mesh_sdk.quality import record_rules, table_checks
from mesh_sdk.query import HistoryReader, HotCopy
from mesh_sdk.rest import build_app
from mesh_sdk.stream_recovery import missing_rows, newest_published_batch
from mesh_sdk.typing_map import arrow_schema, avro_schema, iceberg_schema
from mesh_sql.engine import SqlEngine
from mesh_sql.pgwire import PgWireServer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuntimeOptions:
    http_port: int = 18100
    sql_port: int = 15433
    batch_size: int = 5000
    batch_interval_s: float = 1.0
    observe_interval_s: float = 15.0
    sql_max_rows: int = 100_000
    sql_timeout_s: float = 60.0
    hot_max_rows: int = 5_000_000
    sql_snapshot_views: int = 10
    control_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))


class ProductRuntime:
    def __init__(self, product: DataProduct, settings: MeshSettings, options: RuntimeOptions) -> None:
        self.product = product
        self.settings = settings
        self.options = options
        self.control_token = options.control_token
        d = product.descriptor
        port = product.history_port
        self.props = product.contract.properties(port)
        self.key_columns = product.contract.primary_key(port) or [self.props[0].name or ""]
        self.stream_topic = d.topic("stream")
        self.deadletter_topic = d.topic("dlq")

        self.registry = SchemaRegistryClient({"url": settings.schema_registry_url})
        self.output_schema = avro_schema(
            self.props,
            name=_record_name(port),
            namespace=f"streamline.{d.domain}.{d.name.replace('-', '_')}",
            doc=product.contract.object(port).description or "",
        )
        self._register_schemas()
        inputs = {p.topic: self.product.input_schemas[p.name] for p in product.kafka_inputs()}
        self.partitions = kafka.ensure_topics(settings, list(inputs))
        kafka.ensure_topics(settings, [self.stream_topic, self.deadletter_topic])
        kafka.ensure_topics(settings, [OBSERVATIONS_TOPIC], partitions=1)

        table = ensure_table(iceberg_catalog(settings), d.table(port), iceberg_schema(self.props), d.description)
        rows_schema = arrow_schema(self.props)
        self._duck = lambda: duckdb_connection(settings)
        self.hot = HotCopy(rows_schema, options.hot_max_rows)
        self.reader = HistoryReader(self.current_table, self._duck, self.props, self.key_columns, hot=self.hot)
        self.observer = Observer(product, self.reader, table_checks(product.contract.object(port)))
        self.policy = PolicyState({p.name for p in self.props if p.name})
        self.policy.on_change(self._policy_changed)

        decoders = {t: AvroWireDecoder(self.registry, s) for t, s in inputs.items()}
        self.ingestor = Ingestor(
            product,
            table,
            kafka.consumer(settings, group=d.id),
            kafka.producer(settings, **{"transactional.id": f"{d.id}.stream"}),
            kafka.producer(settings),
            decoders,
            AvroWireEncoder(self.registry, f"{self.stream_topic}-value", self.output_schema),
            record_rules(self.props),
            rows_schema,
            stream_topic=self.stream_topic,
            deadletter_topic=self.deadletter_topic,
            key_columns=self.key_columns,
            batch_size=options.batch_size,
            batch_interval_s=options.batch_interval_s,
            on_batch=self._after_batch,
        )
        self.publisher = ObservationPublisher(self.observer, kafka.producer(settings), options.observe_interval_s)
        self._sql_dirty = threading.Event()
        self._stopping = threading.Event()
        self.sql_engine = SqlEngine(
            self._duck, self.sql_views(), max_rows=options.sql_max_rows, timeout_s=options.sql_timeout_s
        )
        self.sql_server = PgWireServer(self.sql_engine, settings.host, options.sql_port)
        self.app: FastAPI = build_app(self)
        self._threads: list[threading.Thread] = []
        self._http: uvicorn.Server | None = None

    # --- wiring ----------------------------------------------------------------------------------------

    def _register_schemas(self) -> None:
        for port in self.product.kafka_inputs():
            schema = Schema(json.dumps(self.product.input_schemas[port.name]), "AVRO")
            self.registry.register_schema(f"{port.topic}-value", schema)
        # The output stream's schema is registered by its encoder (AvroWireEncoder).

    def current_table(self) -> Table:
        # The ingestor replaces its table object on every commit: readers always ask it.
        return self.ingestor.table

    def _after_batch(self, outcome: BatchOutcome) -> None:
        self.observer.record_batch(outcome)
        self.observer.measure_lag(self.ingestor.consumer, self.ingestor.offsets)
        if outcome.snapshot_id is not None and outcome.rows is not None:
            table = self.ingestor.table
            snapshot = table.snapshot_by_id(outcome.snapshot_id)
            if snapshot is not None and snapshot.parent_snapshot_id == self.hot.snapshot_id:
                self.hot.append(outcome.rows, outcome.snapshot_id)
            else:  # a batch committed without reaching here (a failure after its commit): start over
                self.hot.load(table)
            self.reader.invalidate()
            self._refresh_sql()

    def _policy_changed(self, masked: frozenset[str]) -> None:
        self.reader.masked = masked
        self.reader.invalidate()
        self._refresh_sql()

    def port_urls(self) -> dict[str, str]:
        s, o = self.settings, self.options
        base = f"http://{s.host}:{o.http_port}"
        d = self.product.descriptor
        return {
            "rest": f"{base}/{self.product.history_port}",
            "graphql": f"{base}/graphql",
            "sql": f"postgresql://{s.host}:{o.sql_port}/{d.domain}",
            "sql_http": f"{base}/sql",
            "iceberg": f"{d.table(self.product.history_port)} in catalog {s.catalog_name}",
            "stream": f"kafka://{s.bootstrap_servers}/{self.stream_topic}",
            "dead_letters": f"kafka://{s.bootstrap_servers}/{self.deadletter_topic}",
            "observation": f"{base}/observations",
            "metrics": f"{base}/metrics",
            "control": f"{base}/control/policy",
            "snapshots": f"{base}/snapshots",
        }

    def mount_graphql(self, app: FastAPI) -> None:
        graphql.mount(app, self)

    # --- SQL -------------------------------------------------------------------------------------------

    def sql_views(self, as_of: str | None = None) -> dict[str, str]:
        """The relations SQL users may query: the history (masked) as of the current snapshot, or of
        `as_of`, under its qualified and short names, plus the table's snapshots."""
        snapshot = self.reader.resolve_snapshot(as_of)
        qualified = self.product.descriptor.table(self.product.history_port)
        views = {qualified: self.reader.relation(snapshot)}
        rows = [
            f"({s.snapshot_id}, TIMESTAMPTZ '{s.committed_at.isoformat()}', {s.added_rows}, {s.total_rows})"
            for s in self.reader.snapshots()
        ] or ["(NULL, NULL, NULL, NULL)"]
        # Time travel over the wire protocol: the most recent snapshots as views of their own.
        for earlier in self.reader.snapshots()[-self.options.sql_snapshot_views :]:
            views[f"{qualified}_at_{earlier.snapshot_id}"] = self.reader.relation(earlier.snapshot_id)
        views[f"{qualified}_snapshots"] = (
            f"(SELECT * FROM (VALUES {', '.join(rows)}) s(snapshot_id, committed_at, added_rows, total_rows) "
            "WHERE snapshot_id IS NOT NULL)"
        )
        return views

    def _refresh_sql(self) -> None:
        # Rebuilding the sandboxed engine costs a connection; the refresher does it at most once a second.
        self._sql_dirty.set()

    def _sql_refresher(self) -> None:
        while not self._stopping.is_set():
            if self._sql_dirty.wait(0.5) and not self._stopping.is_set():
                self._sql_dirty.clear()
                try:
                    self.sql_engine.refresh(self.sql_views())
                except Exception as exc:
                    log.warning("the SQL port keeps its previous views: %s", exc)
                    self._sql_dirty.set()
                self._stopping.wait(1.0)

    def sql_query(self, sql: str, params: list[Any], as_of: str | None = None) -> pa.Table:
        """`POST /sql`: the same engine and rules as the PostgreSQL port."""
        if as_of:
            with SqlEngine(self._duck, self.sql_views(as_of), max_rows=self.options.sql_max_rows) as engine:
                return engine.execute(sql, params).table
        return self.sql_engine.execute(sql, params).table

    # --- life cycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        self.ingestor.resume(self.partitions)
        self.hot.load(self.ingestor.table)
        self._close_stream_gap()
        self._spawn("ingest", self.ingestor.run)
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.options.http_port,
            log_level="warning",
            lifespan="off",
        )
        self._http = uvicorn.Server(config)
        self._spawn("http", self._http.run)
        self.sql_server.start()
        self._spawn("sql-refresh", self._sql_refresher)
        self.publisher.start()

    def _close_stream_gap(self) -> None:
        probe = kafka.consumer(self.settings, group=f"{self.product.id}.stream-recovery")
        try:
            stream_partitions = kafka.ensure_topics(self.settings, [self.stream_topic])[self.stream_topic]
            newest = newest_published_batch(probe, self.stream_topic, stream_partitions)
        finally:
            probe.close()
        missing = missing_rows(self.ingestor.table, newest)
        if missing is not None:
            sent = self.ingestor.republish(missing)
            log.warning("republished %d history rows the output stream had lost after a crash", sent)

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        self._sql_dirty.set()
        self.ingestor.stop()
        self.sql_server.stop()
        if self._http is not None:
            self._http.should_exit = True
        self.publisher.stop()
        for thread in self._threads:
            thread.join(timeout=15)


def _record_name(port: str) -> str:
    return "".join(part.title() for part in port.split("_"))
