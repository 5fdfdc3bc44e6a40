"""The servers every running product runs beside the engine that feeds it (Kafka ingestion or
derivation), each on its own thread: the HTTP ports (REST, GraphQL, discovery, observation, control),
the PostgreSQL wire port with its views kept current (when the descriptor declares `sql`), the access
gate every output port asks, the observation publisher, the control listener and the lineage reporter."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import uvicorn
from confluent_kafka import Producer
from fastapi import FastAPI

from mesh_adapters.kafka import Kafka
from mesh_config import MeshSettings
from mesh_sdk.access.control_topic import ControlListener
from mesh_sdk.access.gate import AccessGate
from mesh_sdk.access.log import KafkaAccessLog
from mesh_sdk.access.sql_login import SqlLogin, sql_table_notes, sql_tls
from mesh_sdk.observe.lineage import RunReporter, Versions
from mesh_sdk.observe.observations import ObservationPublisher, Observer
from mesh_sdk.runtime.registration import register_with_catalog
from mesh_sql.engine import SqlEngine
from mesh_sql.pgwire import Method, PgWireServer

if TYPE_CHECKING:
    from mesh_sdk.access.policy import PolicyState
    from mesh_sdk.runtime.options import RuntimeOptions

log = logging.getLogger(__name__)

# relation name -> SQL, as of a snapshot or time (None: now), with some columns masked for one consumer
Views = Callable[[str | None, frozenset[str]], dict[str, str]]


class PortServers:
    def __init__(
        self,
        settings: MeshSettings,
        kafka_clients: Kafka,
        options: RuntimeOptions,
        connect: Callable[[], duckdb.DuckDBPyConnection],
        views: Views,
        observer: Observer,
        versions: Versions,
        policy: PolicyState,
        undeclared: Callable[[], Mapping[str, str | None]] | None = None,
        retired: Callable[[], set[str]] = set,
        sql: bool = True,
    ) -> None:
        self.host = settings.host
        self.http_port = options.http_port
        self.catalog_url = settings.product_catalog_endpoint
        self.publisher = ObservationPublisher(observer, kafka_clients.producer(), options.observe_interval_s)
        product = observer.product
        self.access_log = KafkaAccessLog(kafka_clients)
        self.access = AccessGate(product.id, policy.columns_of("pii"), self.access_log, observer.registry)
        self.control = ControlListener(kafka_clients, settings.control_topic, policy, product.id, self.access)
        self.lineage = RunReporter(
            observer.product, settings, versions, lambda: observer.last_commit, undeclared=undeclared, retired=retired
        )
        self.stopping = threading.Event()
        self._connect = connect
        self._views = views
        self._max_rows = options.sql_max_rows
        self._notes = sql_table_notes(product)
        self._database = product.id
        self._timeout_s = options.sql_timeout_s
        self._engines: dict[frozenset[str], SqlEngine] = {}
        self._engines_lock = threading.Lock()
        self.sql_engine = self.engine_for(frozenset())
        self.sql_server = (
            None
            if not sql
            else PgWireServer(
                self.sql_engine,
                settings.host,
                options.sql_port,
                authenticator=SqlLogin(self.access, self.engine_for),
                method=Method(settings.sql_auth),
                tls=sql_tls(settings),
                tls_required=settings.sql_tls == "required",
            )
        )
        self._stale = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http: uvicorn.Server | None = None

    def views_changed(self) -> None:
        """A commit or a policy changed what SQL may see. Rebuilding the sandboxed engine costs a
        connection; the refresher does it at most once a second."""
        self._stale.set()

    def engine_for(self, hide: frozenset[str]) -> SqlEngine:
        """The SQL engine whose views mask `hide` (one per set of hidden columns: a few at most)."""
        with self._engines_lock:
            engine = self._engines.get(hide)
            if engine is None:
                engine = self._engine(self._views(None, hide), timeout_s=self._timeout_s)
                self._engines[hide] = engine
            return engine

    def _engine(self, views: Mapping[str, str], timeout_s: float | None = 30.0) -> SqlEngine:
        return SqlEngine(
            self._connect,
            views,
            max_rows=self._max_rows,
            timeout_s=timeout_s,
            notes=self._notes,
            database=self._database,
        )

    def refresh_views_now(self) -> None:
        with self._engines_lock:
            engines = dict(self._engines)
        for hide, engine in engines.items():
            engine.refresh(self._views(None, hide))

    def query(
        self, sql: str, params: list[Any], as_of: str | None = None, hide: frozenset[str] = frozenset()
    ) -> pa.Table:
        """`POST /sql`: the same engines and rules as the PostgreSQL port."""
        if as_of:
            with self._engine(self._views(as_of, hide)) as engine:
                return engine.execute(sql, params).table
        return self.engine_for(hide).execute(sql, params).table

    def spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def start(self, app: FastAPI) -> None:
        config = uvicorn.Config(app, host=self.host, port=self.http_port, log_level="warning", lifespan="off")
        self._http = uvicorn.Server(config)
        self.spawn("http", self._http.run)
        if self.sql_server is not None:
            self.sql_server.start()
        self.spawn("sql-refresh", self._keep_views_current)
        self.publisher.start()
        self.control.start()
        self.spawn("catalog-registration", self._register_when_serving)

    def _register_when_serving(self) -> None:
        """Push to the data product catalog once the HTTP port answers: the catalog reads the discovery
        document from it while handling the push, so registering any earlier would fail."""
        while self._http is not None and not self._http.started:
            if self.stopping.wait(0.1):
                return
        register_with_catalog(self.catalog_url, f"http://{self.host}:{self.http_port}")
        self.lineage.start()  # after the push: the catalog knows the product its run events name

    def _keep_views_current(self) -> None:
        while not self.stopping.is_set():
            if self._stale.wait(0.5) and not self.stopping.is_set():
                self._stale.clear()
                try:
                    self.refresh_views_now()
                except Exception as exc:
                    log.warning("the SQL port keeps its previous views: %s", exc)
                    self._stale.set()
                self.stopping.wait(1.0)

    def producers(self) -> list[Producer]:
        """The Kafka producers of the ports, for the runtime to close with its own."""
        return [self.publisher.producer, self.access_log.producer]

    def stop(self, join_timeout_s: float) -> list[str]:
        """Stop every thread (the engine's too, once it has been told to stop); returns those still
        running after `join_timeout_s`."""
        self.stopping.set()
        self._stale.set()
        if self.sql_server is not None:
            self.sql_server.stop()
        if self._http is not None:
            self._http.should_exit = True
        self.publisher.stop()
        for thread in self._threads:
            thread.join(timeout=join_timeout_s)
        self.lineage.stop()
        busy = [t.name for t in self._threads if t.is_alive()]
        if not self.control.stop():
            busy.append("control topic")
        return [*busy, "observation publisher"] if self.publisher.running else busy
