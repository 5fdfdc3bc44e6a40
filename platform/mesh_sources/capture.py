"""Change data capture of the operational databases: Debezium connectors on the Kafka Connect worker.

Two styles side by side, so learners can compare them:
- the legacy monolith's tables are captured as they are (pgoutput, an explicit publication): every
  row change of customers, plans, subscriptions and payments lands on `cdc.legacy.public.<table>`;
  the customer-care CRM's contacts likewise, on `cdc.crm.public.contacts`;
- the content team publishes *events* through a transactional outbox: only the outbox table is
  captured, and Debezium's outbox event router turns each row into an event on
  `cdc.content.outbox.<aggregate type>`, keyed by the aggregate id; so does the subscriptions service
  that takes subscriptions over from the monolith (`cdc.subscriptions.outbox.subscription`).

Keys and values are Avro with their schemas in the registry, in the Confluent wire format."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from mesh_adapters.connect import ConnectClient, ConnectorStatus
from mesh_config import MeshSettings
from mesh_sources import db

log = logging.getLogger(__name__)

AVRO_CONVERTER = "io.apicurio.registry.utils.converter.AvroConverter"


@dataclass(frozen=True)
class CaptureSource:
    name: str
    database: str  # as topics name it: cdc.<database>.<schema>.<table>
    database_setting: str  # the MeshSettings field with the database's actual name
    schema_file: str  # the idempotent DDL shipped beside this module
    tables: tuple[str, ...]  # schema-qualified
    snapshot_mode: str  # initial: existing rows first; no_data: only changes from now on
    outbox_aggregates: tuple[str, ...] = ()  # set for an outbox: the aggregate types it routes
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def connector(self) -> str:
        return f"cdc-{self.name}"

    @property
    def slot(self) -> str:
        return f"mesh_{self.name}"

    @property
    def publication(self) -> str:
        return f"mesh_{self.name}"

    def dsn(self, settings: MeshSettings) -> str:
        return settings.postgres_dsn(str(getattr(settings, self.database_setting)))

    @property
    def topic_prefix(self) -> str:
        return f"cdc.{self.database}"

    def topics(self) -> list[str]:
        if self.outbox_aggregates:
            return [f"{self.topic_prefix}.outbox.{a}" for a in self.outbox_aggregates]
        return [f"{self.topic_prefix}.{t}" for t in self.tables]


LEGACY = CaptureSource(
    "legacy",
    "legacy",
    "legacy_db",
    "legacy.sql",
    ("public.plans", "public.customers", "public.subscriptions", "public.payments"),
    snapshot_mode="initial",
)


def _outbox_router(database: str) -> dict[str, str]:
    """Debezium's outbox event router: each outbox row becomes an event on
    `cdc.<database>.outbox.<aggregate type>`, keyed by the aggregate id, its type in a header."""
    return {
        "transforms": "outbox",
        "transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter",
        "transforms.outbox.route.by.field": "aggregatetype",
        "transforms.outbox.route.topic.replacement": f"cdc.{database}.outbox.${{routedByValue}}",
        "transforms.outbox.table.field.event.key": "aggregateid",
        "transforms.outbox.table.fields.additional.placement": "type:header:type",
    }


CONTENT = CaptureSource(
    "content",
    "content",
    "content_db",
    "content.sql",
    ("public.outbox",),
    # The outbox is emptied as it is written; its events exist only in the WAL from the slot on.
    snapshot_mode="no_data",
    outbox_aggregates=("title",),
    extra=_outbox_router("content"),
)
CRM = CaptureSource(
    "crm",
    "crm",
    "crm_db",
    "crm.sql",
    ("public.contacts",),  # never evaluation.contact_truth: the generator's truth stays out of the mesh
    snapshot_mode="initial",
)
# The subscriptions service, which takes subscriptions over from the monolith (mesh_sources.strangler):
# greenfield, it publishes events through its outbox.
SUBSCRIPTIONS = CaptureSource(
    "subscriptions",
    "subscriptions",
    "subscriptions_db",
    "subscriptions_service.sql",
    ("public.outbox",),
    snapshot_mode="no_data",
    outbox_aggregates=("subscription",),
    extra=_outbox_router("subscriptions"),
)
# In the order they are installed: the CRM's contacts are typed from the monolith's customers, the
# service copies the monolith's plans.
SOURCES = (LEGACY, CONTENT, CRM, SUBSCRIPTIONS)


def _converter(settings: MeshSettings, side: str) -> dict[str, str]:
    # Apicurio's converter speaks the registry's own v2 API; the Confluent framing and content ids
    # make what it writes readable by every Confluent-compatible client through /apis/ccompat/v7.
    registry = settings.schema_registry_url.replace("/apis/ccompat/v7", "/apis/registry/v2")
    prefix = f"{side}.converter"
    return {
        prefix: AVRO_CONVERTER,
        f"{prefix}.apicurio.registry.url": registry,
        f"{prefix}.apicurio.registry.auto-register": "true",
        f"{prefix}.apicurio.registry.find-latest": "true",
        f"{prefix}.apicurio.registry.headers.enabled": "false",
        f"{prefix}.apicurio.registry.id-handler": "io.apicurio.registry.serde.Legacy4ByteIdHandler",
        f"{prefix}.apicurio.registry.use-id": "contentId",
    }


def connector_config(source: CaptureSource, settings: MeshSettings) -> dict[str, str]:
    """The Debezium PostgreSQL connector of one source, complete (PUT replaces the whole config)."""
    config = {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": settings.pg_host,
        "database.port": str(settings.postgres_port),
        "database.user": settings.postgres_user,
        "database.password": settings.postgres_password,
        "database.dbname": source.database,
        "topic.prefix": source.topic_prefix,
        "plugin.name": "pgoutput",
        "publication.name": source.publication,
        "publication.autocreate.mode": "disabled",  # the publication is ours, created explicitly
        "slot.name": source.slot,
        "table.include.list": ",".join(source.tables),
        "snapshot.mode": source.snapshot_mode,
        "tombstones.on.delete": "false",  # delete events carry the old row; topics are not compacted
        "poll.interval.ms": "100",
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": "1",  # one partition per table: changes stay in commit order
        "topic.creation.default.retention.ms": "-1",  # a new consumer can rebuild from the first change
        **_converter(settings, "key"),
        **_converter(settings, "value"),
    }
    return config | source.extra


def ensure_publication(source: CaptureSource, settings: MeshSettings) -> None:
    tables = sql.SQL(", ").join(sql.Identifier(*t.split(".")) for t in source.tables)
    with psycopg.connect(source.dsn(settings), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", [source.publication]).fetchone()
        verb = "ALTER PUBLICATION {} SET TABLE {}" if exists else "CREATE PUBLICATION {} FOR TABLE {}"
        conn.execute(sql.SQL(verb).format(sql.Identifier(source.publication), tables))


def slot_active(source: CaptureSource, settings: MeshSettings) -> bool | None:
    """True/False for an existing slot, None when there is none."""
    with psycopg.connect(source.dsn(settings), autocommit=True) as conn:
        return _slot_state(conn, source.slot)


def _slot_state(conn: psycopg.Connection[Any], slot: str) -> bool | None:
    row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", [slot]).fetchone()
    return None if row is None else bool(row[0])


def start_source(
    source: CaptureSource,
    settings: MeshSettings,
    install: Callable[[str], object] | None = None,
    timeout_s: float = 90.0,
) -> ConnectorStatus:
    """Database schema, publication, connector, in the order each source needs; idempotent."""
    dsn = source.dsn(settings)
    with db.connect(dsn, autocommit=True) as conn:
        db.apply_schema(conn, source.schema_file)  # the publication needs the tables
    if install is not None and source.snapshot_mode == "initial":
        install(dsn)  # existing rows are part of the initial snapshot
    ensure_publication(source, settings)
    with ConnectClient(settings.kafka_connect_url) as connect:
        connect.put(source.connector, connector_config(source, settings))
        status = connect.wait_running(source.connector, timeout_s)
    _wait_for_slot(source, settings, timeout_s)
    if install is not None and source.snapshot_mode != "initial":
        install(dsn)  # written after the slot exists, so the WAL holds every event for the connector
    return status


def _wait_for_slot(source: CaptureSource, settings: MeshSettings, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while slot_active(source, settings) is not True:
        if time.monotonic() > deadline:
            raise TimeoutError(f"replication slot {source.slot} is not active after {timeout_s:.0f} s")
        time.sleep(0.2)


def remove_source(source: CaptureSource, settings: MeshSettings, timeout_s: float = 30.0) -> None:
    """Delete the connector, then its replication slot (an idle slot makes PostgreSQL keep WAL
    forever) and its publication. The topics and their events stay."""
    with ConnectClient(settings.kafka_connect_url) as connect:
        connect.delete(source.connector)
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(source.dsn(settings), autocommit=True) as conn:
        while True:
            active = _slot_state(conn, source.slot)
            if active is None:
                break
            if not active:
                conn.execute("SELECT pg_drop_replication_slot(%s)", [source.slot])
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"replication slot {source.slot} is still in use after {timeout_s:.0f} s")
            time.sleep(0.2)
        conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(source.publication)))
    log.info("removed capture of %s: connector, slot and publication", source.name)
