"""The serving host: what every running product is, whichever engine feeds its tables. It holds the
product, its settings and clients, and serves the tables the engine writes on the output ports the
descriptor declares, with the observation port, the policy in force and the access gate. The engines
(`SourceAlignedRuntime`: Kafka and CDC ingestion; `DerivedRuntime`: derivation from other products)
subclass it and say only what is theirs: which tables they serve, what they add to discovery, and how
they start and stop."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa
from confluent_kafka import Producer
from fastapi import FastAPI
from open_data_contract_standard.model import SchemaProperty
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from mesh_adapters import kafka
from mesh_config import MeshSettings
from mesh_sdk.access.gate import AccessGate
from mesh_sdk.access.policy import PolicyState
from mesh_sdk.observe.observations import OBSERVATIONS_TOPIC, Observer
from mesh_sdk.observe.quality import TableCheck
from mesh_sdk.runtime.clients import Clients
from mesh_sdk.runtime.options import RuntimeOptions
from mesh_sdk.runtime.ports import PortServers
from mesh_sdk.serve import graphql
from mesh_sdk.serve.reader import TableReader, mask_columns, sql_views
from mesh_sdk.serve.rest import build_app
from mesh_sdk.serve.served import declared_query_ports, serving_urls
from mesh_sdk.spec.product import DataProduct
from mesh_sdk.storage.maintenance import Upkeep

log = logging.getLogger(__name__)


class ProductHost:
    main_port: str
    reader: TableReader  # the main table's: the one GraphQL and key lookups serve
    observer: Observer
    policy: PolicyState
    ports: PortServers
    app: FastAPI
    join_timeout_s = 15.0  # how long `stop` waits for the engine's threads

    def __init__(self, product: DataProduct, settings: MeshSettings, options: RuntimeOptions, clients: Clients) -> None:
        self.product = product
        self.settings = settings
        self.options = options
        self.clients = clients
        self.control_token = options.control_token
        self.upkeep = Upkeep.from_settings(settings)
        self.catalog: Catalog = clients.catalog
        self.registry = clients.registry
        self.kafka = clients.kafka
        self.query_ports = declared_query_ports(product.descriptor)
        self._duck = clients.duckdb
        self.kafka.ensure_topics([OBSERVATIONS_TOPIC], partitions=1)

    def _serve(
        self,
        main_port: str,
        main: TableReader,
        checks: list[TableCheck],
        columns: Iterable[SchemaProperty],
        *,
        tables: Mapping[str, TableReader] | None = None,
        freshness: Callable[[], datetime | None] | None = None,
        undeclared: Callable[[], Mapping[str, str | None]] | None = None,
    ) -> None:
        """Once the engine's tables are readable: the observer, the policy over `columns`, the ports."""
        self.main_port, self.reader = main_port, main
        self.observer = Observer(self.product, main, checks, tables=tables, freshness=freshness)
        named = {c.name: c.classification for c in columns if c.name}
        self.policy = PolicyState(set(named), named)
        self.policy.on_change(self._policy_changed)
        self.ports = PortServers(
            self.settings,
            self.kafka,
            self.options,
            self._duck,
            self.sql_views,
            self.observer,
            self._versions,
            self.policy,
            undeclared=undeclared,
            retired=self.retired_inputs,
            sql="sql" in self.query_ports,
        )
        self.app = build_app(self)

    # --- what the engine says ------------------------------------------------------------------------

    def served_tables(self) -> dict[str, TableReader]:
        """Port name -> the reader of each table the product serves."""
        raise NotImplementedError

    def engine_urls(self) -> dict[str, str]:
        """Where the engine's own ports are (its Iceberg tables, its streams), for discovery."""
        return {}

    def discovery_extras(self) -> dict[str, Any]:
        return {}

    def retired_inputs(self) -> set[str]:
        """The input ports the product reads no more (their sources said their last word)."""
        return set()

    def refresh_now(self) -> dict[str, Any] | None:
        return None

    def command(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any] | None:
        return None

    def _versions(self) -> dict[str, str | None]:
        """The snapshot each table (and input) has reached, for the product's OpenLineage events."""
        raise NotImplementedError

    def _start_engine(self) -> None:
        """Recover and spawn the engine's threads (on `self.ports`), before the ports open."""

    def _serving(self) -> None:
        """The ports are open."""

    def _halt_engine(self) -> None:
        """Tell the engine's threads to stop (the ports' `stopping` event is set next)."""

    def _engine_producers(self) -> Iterable[Producer]:
        return ()

    def _close_engine(self) -> None:
        """Close the engine's clients once its threads have stopped."""

    # --- the ports -----------------------------------------------------------------------------------

    @property
    def access(self) -> AccessGate:
        return self.ports.access

    def port_urls(self) -> dict[str, str]:
        d, o = self.product.descriptor, self.options
        return serving_urls(self.settings, o.http_port, o.sql_port, d, self.main_port) | self.engine_urls()

    def mount_graphql(self, app: FastAPI) -> None:
        graphql.mount(app, self)

    def sql_views(self, as_of: str | None = None, hide: frozenset[str] = frozenset()) -> dict[str, str]:
        """The relations SQL users may query: every served table (masked) under its qualified name, as of
        the current snapshot or `as_of`, and their snapshots."""
        d, keep = self.product.descriptor, self.options.sql_snapshot_views
        return sql_views(self.served_tables(), d.table, as_of, hide, keep)

    def sql_query(
        self, sql: str, params: list[Any], as_of: str | None = None, hide: frozenset[str] = frozenset()
    ) -> pa.Table:
        return self.ports.query(sql, params, as_of, hide)

    def _policy_changed(self, masked: frozenset[str]) -> None:
        mask_columns(self.served_tables().values(), masked)
        self.ports.views_changed()

    # --- life cycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._start_engine()
        self.ports.start(self.app)
        self._serving()

    def stop(self) -> None:
        self._halt_engine()
        busy = self.ports.stop(join_timeout_s=self.join_timeout_s)
        if busy:
            log.warning("threads still running at stop (%s): their Kafka clients are left open", ", ".join(busy))
            return
        kafka.close_producers((*self._engine_producers(), *self.ports.producers()))
        self._close_engine()


def current_snapshot_id(table: Table) -> str | None:
    snapshot = table.current_snapshot()
    return str(snapshot.snapshot_id) if snapshot is not None else None
