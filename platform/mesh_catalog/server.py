"""The composition root of the catalog service: settings in, a running HTTP API and pull thread out.
`mesh catalog run` and the tests build it here, and nowhere else."""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from pyiceberg.exceptions import NoSuchTableError

from mesh_access import AccessService, Readable
from mesh_access.kafka_reads import reads
from mesh_access.lakehouse_reads import lakehouse_reads, object_request
from mesh_access.platform_token import platform_token
from mesh_adapters import kafka
from mesh_adapters.kafka import KafkaClients
from mesh_adapters.lakehouse import iceberg_catalog
from mesh_audit.log_table import AuditTable
from mesh_catalog.adapters import (
    HttpDocumentSource,
    JsonFileStore,
    KafkaBroker,
    KafkaControlPublisher,
    KafkaGroupOffsets,
    ParquetRowCounts,
    SeaweedLakehouse,
)
from mesh_catalog.api import build_app
from mesh_catalog.audit_browser import IcebergAuditLog
from mesh_catalog.portal import LabsBoard
from mesh_catalog.s3_request_log import RequestLogReceiver, RequestSpool
from mesh_catalog.service import CatalogService
from mesh_catalog.stewards import CatalogStewards
from mesh_config import MeshSettings
from mesh_config.naming import ProductName
from mesh_governance import PolicyError, PolicySet, git_blob_id, load_policies
from mesh_sdk.access.gate import AccessEvent
from mesh_sdk.access.log import KafkaAccessLog
from mesh_sdk.serve.masked_stream import masked_topic

log = logging.getLogger(__name__)


def state_path(settings: MeshSettings) -> Path:
    return settings.home / "catalog" / "registrations.json"


def _secured(settings: MeshSettings) -> bool:
    return settings.kafka_security_protocol.upper() != "PLAINTEXT"


def _lakehouse(settings: MeshSettings) -> SeaweedLakehouse | None:
    """The embedded object store's access control; None for any other S3 (compose's MinIO, a cloud)."""
    if settings.s3_endpoint is not None:
        return None
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    return SeaweedLakehouse(settings, weed) if Path(weed).exists() else None


def access_path(settings: MeshSettings) -> Path:
    """Consumer identities (key hashes only), access requests and decisions."""
    return settings.home / "catalog" / "access.json"


class CatalogServer:
    def __init__(
        self,
        settings: MeshSettings,
        *,
        port: int | None = None,
        pull_every_s: float | None = None,
        labs: LabsBoard | None = None,
    ) -> None:
        self.labs = labs  # the portal's Labs page, when the process that runs the catalog has labs
        self.host = settings.host
        self.port = settings.product_catalog_port if port is None else port
        self.pull_every_s = settings.product_catalog_pull_s if pull_every_s is None else pull_every_s
        # A policy file that does not load stops the start: a catalog without its policies would let anything in.
        self.policies_file = settings.policies_file
        policies = load_policies(self.policies_file)
        self.control = KafkaControlPublisher(settings)
        self._published: str | None = None  # the digest of the policies last published
        self.service = CatalogService(HttpDocumentSource(), JsonFileStore(state_path(settings)), policies=policies)
        self.broker = KafkaBroker(settings, lambda: list(self.access.book.consumers)) if _secured(settings) else None
        self.settings = settings
        # Kafka reads: the broker reports none, so the catalog watches consumers' groups' offsets.
        self.group_offsets = KafkaGroupOffsets(settings) if _secured(settings) else None
        self.positions_store = JsonFileStore(settings.home / "catalog" / "kafka-read-positions.json")
        saved = self.positions_store.load() or {}
        self.kafka_positions = {(g, t, int(p)): int(o) for g, t, p, o in saved.get("positions", [])}
        self.access_log: KafkaAccessLog | None = None  # opened at the first read to record
        lakehouse = _lakehouse(settings)
        self.access = AccessService(
            JsonFileStore(access_path(settings)),
            self.control,
            self.product_owner,
            broker=self.broker,
            topics=self.product_topics,
            lakehouse=lakehouse,
            tables=self.product_tables,
        )
        # Lakehouse reads: the object store reports its requests; consumers' reads wait in a spool.
        self.s3_requests = RequestSpool(settings.home / "catalog" / "s3-requests.jsonl") if lakehouse else None
        self.s3_request_log: RequestLogReceiver | None = None
        self.row_counts = ParquetRowCounts(settings)
        self.platform_token = platform_token(settings)
        self.audit = IcebergAuditLog(lambda: AuditTable.load(iceberg_catalog(settings)))
        self.registry_url = settings.schema_registry_url
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http: uvicorn.Server | None = None

    @property
    def policies(self) -> PolicySet:
        """The policies in force (the service's: it evaluates every product against them)."""
        return self.service.policies

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30) -> None:
        """Reload the saved registrations, then serve and pull; returns once the API answers."""
        restored = self.service.load()
        config = uvicorn.Config(
            build_app(
                self.service,
                self.audit,
                self.registry_url,
                self.access,
                self.platform_token,
                self.labs,
                CatalogStewards(self.settings, self.service, self.access),
            ),
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self._http = uvicorn.Server(config)
        self._spawn("catalog-http", self._http.run)
        deadline = time.monotonic() + timeout_s
        while not self._http.started:
            # uvicorn reports a port in use by logging and ending its thread, not by raising.
            if not self._threads[0].is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the catalog could not serve on {self.url} (is the port in use?)")
            time.sleep(0.05)
        self._receive_s3_requests()
        self._spawn("catalog-pull", self._pull_loop)
        log.info(
            "catalog serving on %s with %d restored products, pulling every %g s, %d policies (version %d, %s)",
            self.url,
            restored,
            self.pull_every_s,
            len(self.policies.policies),
            self.policies.version,
            self.policies.digest[:12],
        )

    def _receive_s3_requests(self) -> None:
        spool, port = self.s3_requests, self.settings.s3_access_log_port
        if spool is None:
            return
        try:
            self.s3_request_log = RequestLogReceiver(
                (self.host, port), spool, lambda record: object_request(record) is not None
            )
        except OSError as exc:
            log.error(
                "the object store's request log cannot be received on %s:%d (%s; another catalog of this stack?): "
                "this catalog records no lakehouse reads",
                self.host,
                port,
                exc.strerror,
            )
            return
        self._spawn("catalog-s3-requests", self.s3_request_log.serve_forever)

    def product_owner(self, product: str) -> tuple[str, str]:
        """A product's id and owning team, from its id or its folder name (`subscriptions.customers`)."""
        for entry in self.service.entries():
            if product in (entry.id, f"{entry.domain}.{entry.name}"):
                if entry.owner is None:
                    raise LookupError(f"{entry.id} names no owner")
                return entry.id, entry.owner.team
        raise LookupError(product)

    def product_topics(self, product: str) -> Readable:
        """A product's Kafka output topics (by the naming convention), and their masked twins if its data
        holds PII (the SDK publishes one per stream)."""
        entry = self.service.entry(product)  # UnknownProduct is a LookupError
        topics = [ProductName.of(entry.id).topic(p.name) for p in entry.output_ports if p.kind == "kafka"]
        pii = any(c.pii for c in entry.columns)
        return Readable(topics, pii, [masked_topic(t) for t in topics] if pii else [])

    def product_tables(self, product: str) -> Readable:
        """A product's Iceberg tables (their s3:// locations), whether its data holds PII, and then the
        locations of their masked twins (the SDK keeps one per table with PII)."""
        entry = self.service.entry(product)
        naming = ProductName.of(entry.id)
        pii = any(c.pii for c in entry.columns)
        catalog = iceberg_catalog(self.settings)

        def located(names: list[str]) -> list[str]:
            locations = []
            for name in names:
                try:
                    locations.append(catalog.load_table(name).location())
                except NoSuchTableError:
                    continue  # not written yet: a later pull includes it
            return locations

        whole = located([naming.table(t) for t in entry.tables])
        return Readable(whole, pii, located([naming.masked_table(t) for t in entry.tables]) if pii else [])

    def audit_kafka_reads(self) -> int:
        """Append to the access log what consumers read on Kafka since the last look (their groups'
        committed offsets); returns how many reads were recorded."""
        if self.group_offsets is None:
            return 0
        consumers = list(self.access.book.consumers)
        offsets = self.group_offsets.committed(f"{c}." for c in consumers)
        found = reads(self.kafka_positions, offsets, consumers)
        now = datetime.now(UTC)
        for read in found:
            self._record(now, read.product, "kafka", read.topic, read.consumer, "read", read.records)
        if found or offsets != self.kafka_positions:
            self.kafka_positions = offsets
            self.positions_store.save({"positions": [[g, t, p, o] for (g, t, p), o in offsets.items()]})
        return len(found)

    def audit_lakehouse_reads(self) -> int:
        """Append to the access log what consumers read from the lakehouse since the last look (the object
        store's requests, spooled); returns how many reads were recorded."""
        if self.s3_requests is None:
            return 0
        found: list[int] = []
        self.s3_requests.take(lambda records: found.append(self._record_lakehouse(records)))
        return sum(found)

    def _record_lakehouse(self, records: list[dict[str, object]]) -> int:
        requests = [r for r in map(object_request, records) if r is not None]
        if not requests:
            return 0
        tables: dict[str, str] = {}  # location -> product
        for entry in self.service.entries():
            readable = self.product_tables(entry.id)
            tables |= dict.fromkeys(readable.whole + readable.masked, entry.id)
        found = lakehouse_reads(requests, tables)
        for read in found:
            rows = sum(self.row_counts.rows(path) for path in read.data_files)
            self._record(
                read.at,
                read.product,
                "lakehouse",
                read.table,
                read.consumer,
                read.outcome,
                rows,
                read.status,
                read.reason,
            )
        if self.access_log is not None:
            self.access_log.confirm()  # before the spool lets them go
        return len(found)

    def _record(
        self,
        at: datetime,
        product: str,
        port: str,
        resource: str,
        consumer: str,
        outcome: str,
        rows: int,
        status: int = 200,
        reason: str = "",
    ) -> None:
        """A read a server reported (or let be seen), with the purposes and PII of the consumer's grants."""
        if self.access_log is None:
            self.access_log = KafkaAccessLog(KafkaClients(self.settings))
        mine = [g for g in self.access.book.grants() if g.consumer == consumer and g.product == product]
        pii, purposes = any(g.pii for g in mine), tuple(sorted({g.purpose for g in mine}))
        self.access_log.record(
            AccessEvent(at, product, port, resource, consumer, None, outcome, rows, pii, purposes, status, reason)
        )

    def pull_now(self) -> None:
        self.service.pull()

    def follow_policies(self) -> None:
        """Put the policy file in force when it changed, and publish the policies in force on the control
        topic until the broker takes them. A file that no longer loads leaves the previous policies in
        force (`policy_error` says why): a typo must not switch governance off."""
        try:
            digest = git_blob_id(self.policies_file.read_bytes())
        except OSError as exc:
            digest, self.service.policy_error = self.policies.digest, f"{self.policies_file} cannot be read: {exc}"
        if digest != self.policies.digest:
            try:
                policies = load_policies(self.policies_file)
            except PolicyError as exc:
                if self.service.policy_error != str(exc):
                    log.error("the changed policy file is not in force, the previous policies stay: %s", exc)
                self.service.policy_error = str(exc)
            else:
                log.info(
                    "policies version %d (%s) in force, were %d", policies.version, digest[:12], self.policies.version
                )
                self.service.policy_error = None
                self.service.replace_policies(policies)
        if self._published != self.policies.digest:
            try:
                self.control.publish(self.policies)
                self._published = self.policies.digest
            except Exception as exc:
                log.warning("could not publish the policies on %s (retrying): %s", self.control.topic, exc)

    def _pull_loop(self) -> None:
        # The first pull comes at once: products restored from disk may have gone (or come back) meanwhile.
        while not self.stopping.is_set():
            # Nothing is asked of a broker that is away (an outage, a lab): see kafka.reachable.
            broker_up = self.broker is None or self.broker.reachable()
            try:
                if broker_up:
                    self.follow_policies()
                    self.access.publish()  # until the broker has taken the newest access list
                self.service.pull()
            except Exception:
                log.exception("a pull failed; the next one comes in %g s", self.pull_every_s)
            try:  # the servers that enforce access themselves, and what they cannot report
                self.access.sync_lakehouse()
                self.access.retire_lakehouse_keys()
                if broker_up:
                    self.audit_kafka_reads()
                self.audit_lakehouse_reads()
            except Exception as exc:
                log.warning("the broker's or the object store's access is not in line yet: %s", exc)
            self.stopping.wait(self.pull_every_s)

    def _spawn(self, name: str, target: Callable[[], object]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, join_timeout_s: float = 15) -> None:
        self.stopping.set()
        if self._http is not None:
            self._http.should_exit = True
        if self.s3_request_log is not None:
            self.s3_request_log.shutdown()
            self.s3_request_log.server_close()
        for thread in self._threads:
            thread.join(timeout=join_timeout_s)
        self.control.close()
        busy = [thread.name for thread in self._threads if thread.is_alive()]
        if busy:
            log.warning("threads still running at stop (%s): their Kafka clients are left open", ", ".join(busy))
            return
        if self.access_log is not None:
            kafka.close_producers([self.access_log.producer])
        for admin in (self.broker, self.group_offsets):
            if admin is not None:
                admin.close()

    def wait(self) -> None:
        """Until stop() is called (from a signal handler, say)."""
        while not self.stopping.wait(1.0):
            pass
