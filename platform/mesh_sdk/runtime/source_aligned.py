"""A source-aligned product's runtime: Kafka micro-batches (an app's events, or the changes CDC captures
from an operational database) ingested exactly once into its history table (and, for a captured table,
its current state), published on its output stream, and served by the host."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
from confluent_kafka import Message, Producer
from confluent_kafka.schema_registry import Schema
from pyiceberg.table import Table

from mesh_adapters.avro import AvroWireDecoder, AvroWireEncoder, AvroWireReader
from mesh_config import MeshSettings
from mesh_config.naming import ProductName
from mesh_sdk.ingest.batch import Decode
from mesh_sdk.ingest.changes import captured_table, from_debezium, from_outbox
from mesh_sdk.ingest.engine import Ingestor
from mesh_sdk.ingest.stream_recovery import missing_rows, newest_published_batch
from mesh_sdk.observe.outcome import BatchOutcome
from mesh_sdk.observe.quality import record_rules, table_checks
from mesh_sdk.runtime.clients import Clients
from mesh_sdk.runtime.host import ProductHost, current_snapshot_id
from mesh_sdk.runtime.options import RuntimeOptions
from mesh_sdk.serve.masked_stream import masked_stream
from mesh_sdk.serve.masked_table import MaskedTable, follow
from mesh_sdk.serve.reader import HotCopy, TableReader
from mesh_sdk.spec.column_types import arrow_schema, avro_schema, iceberg_schema
from mesh_sdk.spec.descriptor import CdcInput
from mesh_sdk.spec.product import DataProduct
from mesh_sdk.storage.current_state import CurrentState
from mesh_sdk.storage.history import ensure_table
from mesh_sdk.storage.history import retired_inputs as retired_topics
from mesh_sdk.storage.maintenance import same_data

log = logging.getLogger(__name__)


class SourceAlignedRuntime(ProductHost):
    def __init__(self, product: DataProduct, settings: MeshSettings, options: RuntimeOptions, clients: Clients) -> None:
        super().__init__(product, settings, options, clients)
        d = product.descriptor
        contract = product.contract
        history, served = product.history_port, product.served_port
        self.history_props = contract.properties(history)
        self.props = contract.properties(served)
        self.key_columns = contract.primary_key(served) or [self.props[0].name or ""]
        history_keys = contract.primary_key(history) or [self.history_props[0].name or ""]
        self.stream_topic = d.topic("stream")
        self.deadletter_topic = d.topic("dlq")

        self.output_schema = avro_schema(
            self.history_props,
            name=_record_name(history),
            namespace=d.avro_namespace,
            doc=contract.object(history).description or "",
        )
        self._register_schemas()
        decoders = self._input_decoders()
        self.partitions = self.kafka.ensure_topics(list(decoders))
        self.kafka.ensure_topics([self.stream_topic, self.deadletter_topic])

        catalog = self.catalog
        table = ensure_table(
            catalog, d.table(history), iceberg_schema(self.history_props), d.description, f"{d.id}/{history}"
        )
        rows_schema = arrow_schema(self.props)
        self.hot = HotCopy(rows_schema, options.hot_max_rows)
        self.state: CurrentState | None = None
        if product.cdc_input() is not None:
            state_table = ensure_table(
                catalog, d.table(served), iceberg_schema(self.props), d.description, f"{d.id}/{served}"
            )
            self.state = CurrentState(state_table, self.key_columns, rows_schema, self.upkeep)
            if len(product.cdc_inputs()) > 1:
                self.state.follow_versions(table)
        reader = TableReader(self.current_table, self._duck, self.props, self.key_columns, hot=self.hot)
        # A captured table's change history is served beside its current state.
        self.history_reader = (
            TableReader(lambda: self.ingestor.table, self._duck, self.history_props, history_keys)
            if self.state is not None
            else reader
        )

        def stream_producer() -> Producer:
            return self.kafka.producer(**{"transactional.id": f"{d.id}.stream"})

        self.ingestor = Ingestor(
            product,
            table,
            self.kafka.consumer(group=d.id),
            stream_producer(),
            self.kafka.producer(),
            decoders,
            AvroWireEncoder(self.registry, f"{self.stream_topic}-value", self.output_schema),
            record_rules(self.history_props),
            arrow_schema(self.history_props),
            stream_topic=self.stream_topic,
            deadletter_topic=self.deadletter_topic,
            key_columns=history_keys,
            stream_key_columns=self.key_columns,
            batch_size=options.batch_size,
            batch_interval_s=options.batch_interval_s,
            on_batch=self._after_batch,
            new_stream_producer=stream_producer,
            upkeep=self.upkeep,
            close_stream_gap=self._close_stream_gap,
        )
        self._serve(served, reader, table_checks(contract.object(served)), self.history_props)
        pii = self.policy.columns_of("pii")
        self.masked = masked_stream(self.kafka, self.registry, d.id, self.stream_topic, self.output_schema, pii)
        tables = {history: self.history_props} | ({served: self.props} if self.state is not None else {})
        self.masked_tables = [
            MaskedTable(
                catalog, d.table(port), ProductName.of(d.id).masked_table(port), pii, d.description, self.upkeep
            )
            for port, props in tables.items()
            if pii & {p.name for p in props}
        ]

    # --- wiring ----------------------------------------------------------------------------------------

    def _input_decoders(self) -> dict[str, Decode]:
        """How each input topic's messages become the records the product's logic receives."""
        decoders: dict[str, Decode] = {}
        writer_schema = AvroWireReader(self.registry)
        for cdc in self.product.cdc_inputs():
            decoders[cdc.topic] = _captured_change(cdc, writer_schema)
        for port in self.product.kafka_inputs():
            decode = AvroWireDecoder(self.registry, self.product.input_schemas[port.name])
            decoders[port.topic] = lambda m, decode=decode: decode(m.value() or b"")  # type: ignore[misc]
        # An upstream product's stream is read with the schema it registered (its contract's).
        upstream = AvroWireReader(self.registry)
        for dependency in self.product.product_inputs():
            decoders[dependency.topic] = lambda m: upstream(m.value() or b"")
        return decoders

    def _register_schemas(self) -> None:
        for port in self.product.kafka_inputs():
            schema = Schema(json.dumps(self.product.input_schemas[port.name]), "AVRO")
            self.registry.register_schema(f"{port.topic}-value", schema)
        # The output stream's schema is registered by its encoder (AvroWireEncoder).

    def current_table(self) -> Table:
        """The served table: the current state of a captured table, else the history. Writers replace
        their table objects on every commit, so readers always ask."""
        return self.state.table if self.state is not None else self.ingestor.table

    def _after_batch(self, outcome: BatchOutcome) -> None:
        self.observer.record_batch(outcome)
        self.observer.record_lag(self.ingestor.behind)
        if self.state is not None:
            if outcome.snapshot_id is not None and outcome.rows is not None:
                self._apply_to_state(outcome.snapshot_id, outcome.rows)
            return
        if outcome.snapshot_id is not None and outcome.rows is not None:
            table = self.ingestor.table
            snapshot = table.snapshot_by_id(outcome.snapshot_id)
            if snapshot is not None and same_data(table, self.hot.snapshot_id, snapshot.parent_snapshot_id):
                self.hot.append(outcome.rows, outcome.snapshot_id)
            else:  # a batch committed without reaching here (a failure after its commit): start over
                self.hot.load(table)
            if self.hot.enabled and not self.hot.follow(table):  # compacted since: the same rows, or a reload
                self.hot.load(table)
            self.reader.invalidate()
            self.ports.views_changed()

    def _apply_to_state(self, snapshot_id: int, rows: pa.Table) -> None:
        assert self.state is not None
        history = self.ingestor.table
        snapshot = history.snapshot_by_id(snapshot_id)
        delta = None
        try:
            # The state's own marker says which history snapshot it has applied (a compaction of the
            # history since holds the same changes).
            if snapshot is not None and same_data(history, self.state.applied(), snapshot.parent_snapshot_id):
                delta = self.state.apply(rows, snapshot_id)
            else:  # the state missed a batch (a failure after the history committed): catch up
                self.state.catch_up(history)
        except Exception:
            # The history holds the changes; the next batch (or a restart) catches the state up.
            log.exception("the current state could not be updated; it will catch up from the history")
            return
        if delta is not None and delta.from_snapshot is not None and self.hot.holds(delta.from_snapshot):
            if delta.to_snapshot is not None:
                self.hot.replace(self.key_columns, delta.keys, delta.alive, delta.to_snapshot)
        else:
            self.hot.load(self.state.table)
        if self.hot.enabled and not self.hot.follow(self.state.table):
            self.hot.load(self.state.table)
        for reader in self.served_tables().values():
            reader.invalidate()
        self.ports.views_changed()

    def served_tables(self) -> dict[str, TableReader]:
        """The served table's reader, and the change history's when a captured table has one."""
        tables = {self.product.served_port: self.reader}
        if self.history_reader is not self.reader:
            tables[self.product.history_port] = self.history_reader
        return tables

    def engine_urls(self) -> dict[str, str]:
        s, d, served = self.settings, self.product.descriptor, self.product.served_port
        return {
            "iceberg": f"{d.table(served)} in catalog {s.catalog_name}",
            "stream": f"kafka://{s.bootstrap_servers}/{self.stream_topic}",
            **({"stream_masked": f"kafka://{s.bootstrap_servers}/{self.masked.target}"} if self.masked else {}),
            **({"lakehouse_masked": ", ".join(t.name for t in self.masked_tables)} if self.masked_tables else {}),
            "dead_letters": f"kafka://{s.bootstrap_servers}/{self.deadletter_topic}",
        }

    def _versions(self) -> dict[str, str | None]:
        tables = {self.product.history_port: self.ingestor.table}
        if self.state is not None:
            tables[self.product.served_port] = self.state.table
        return {port: current_snapshot_id(table) for port, table in tables.items()}

    # --- life cycle ------------------------------------------------------------------------------------

    def retired_inputs(self) -> set[str]:
        retired = retired_topics(self.ingestor.table)
        return {p.name for p in self.product.cdc_inputs() if p.topic in retired}

    def discovery_extras(self) -> dict[str, Any]:
        retired = self.retired_inputs()
        return {
            "inputs": {
                p.name: "retired" if p.name in retired else "reading" for p in self.product.descriptor.input_ports
            }
        }

    def recover(self) -> None:
        """Back to what the tables committed: the inputs from the offsets the history holds (but those
        whose sources said their last word), the current state caught up, the output stream's last batch
        republished if it lost it."""
        retired = retired_topics(self.ingestor.table)
        self.ingestor.resume({topic: n for topic, n in self.partitions.items() if topic not in retired})
        if self.state is not None:
            self.state.catch_up(self.ingestor.table)
        self.hot.load(self.current_table())
        self._close_stream_gap()

    def _start_engine(self) -> None:
        self.recover()
        self.ports.spawn("ingest", self.ingestor.run)
        if self.masked is not None:
            masked = self.masked
            masked.start()
            self.ports.spawn("masked-stream", lambda: masked.run(self.ports.stopping))
        if self.masked_tables:
            twins, every_s = self.masked_tables, self.options.masked_tables_every_s
            self.ports.spawn("masked-tables", lambda: follow(twins, self.ports.stopping, every_s))

    def _close_stream_gap(self) -> None:
        probe = self.kafka.consumer(group=f"{self.product.id}.stream-recovery")
        try:
            stream_partitions = self.kafka.ensure_topics([self.stream_topic])[self.stream_topic]
            newest = newest_published_batch(probe, self.stream_topic, stream_partitions)
        finally:
            probe.close()
        missing = missing_rows(self.ingestor.table, newest)
        if missing is not None:
            sent = self.ingestor.republish(missing)
            log.warning("republished %d history rows the output stream had lost after a crash", sent)

    def _halt_engine(self) -> None:
        self.ingestor.stop()

    def _engine_producers(self) -> Iterable[Producer]:
        masked = [self.masked.producer] if self.masked is not None else []
        return (self.ingestor.stream_producer, self.ingestor.deadletter_producer, *masked)

    def _close_engine(self) -> None:
        if self.masked is not None:
            self.masked.close()
        try:
            self.ingestor.consumer.close()
        except Exception as exc:
            log.debug("closing the consumer: %s", exc)


def _record_name(port: str) -> str:
    return "".join(part.title() for part in port.split("_"))


def _captured_change(cdc: CdcInput, writer_schema: AvroWireReader) -> Decode:
    """A captured table's row changes, or the events its outbox published, as one change shape."""
    captured = captured_table(cdc.topic)
    if cdc.style == "outbox":

        def outbox_event(m: Message) -> dict[str, Any]:
            payload = writer_schema(m.value() or b"")
            return from_outbox(payload, m.headers(), captured, m.offset() or 0, m.timestamp()[1])

        return outbox_event
    return lambda m: from_debezium(writer_schema(m.value() or b""), captured)
