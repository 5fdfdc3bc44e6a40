"""Evidence that nothing was lost and nothing duplicated: every message sent to playback.events since a
mark is accounted for, either set aside in the dead-letter topic (by its source coordinates) or, for a
valid event, kept in the history exactly once. Independent of the product's own code: it reads the
topics and the table as any auditor could."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesh_adapters import kafka
from mesh_config import MeshSettings

INPUT = "playback.telemetry.raw.v1"
DEAD_LETTERS = "playback.events.dlq.v1"
HISTORY = "playback.events_history_v1"
Marks = dict[str, dict[int, int]]


def mark(settings: MeshSettings) -> Marks:
    """Where the input and the dead-letter topic end now: what is sent from here on is accounted for."""
    return {topic: kafka.end_offsets(settings, topic) for topic in (INPUT, DEAD_LETTERS)}


@dataclass(frozen=True)
class Accounting:
    sent: int  # messages on the input topic since the mark
    dead: int  # of them, set aside with a reason
    valid: int  # distinct valid events among the others
    kept: int  # of those, in the history
    doubled: int  # of those, in the history more than once
    unaccounted: int = 0  # neither set aside nor readable as an event: poison the product let through

    @property
    def lost(self) -> int:
        return self.valid - self.kept

    @property
    def exact(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and self.unaccounted == 0

    def __str__(self) -> str:
        return (
            f"{self.sent} sent, {self.dead} dead letters, {self.valid} valid distinct events: "
            f"{self.kept} kept, {self.lost} lost, {self.doubled} doubled"
            + (f", {self.unaccounted} neither set aside nor valid" if self.unaccounted else "")
        )


def dead_letter_headers(settings: MeshSettings, marks: Marks) -> list[dict[str, str]]:
    found = kafka.read_since(settings, DEAD_LETTERS, marks.get(DEAD_LETTERS, {}))
    return [{k: v.decode() for k, v in (m.headers() or [])} for m in found]


def valid_event_ids(settings: MeshSettings, marks: Marks) -> tuple[int, int, set[str], int]:
    """(messages sent, dead letters, the distinct event ids of the messages not set aside, the messages
    neither set aside nor readable as an event: none, once the product has caught up)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    dead = dead_letter_headers(settings, marks)
    rejected = {(d["mesh.source.partition"], d["mesh.source.offset"]) for d in dead}
    avro = AvroDeserializer(SchemaRegistryClient({"url": settings.schema_registry_url}))
    sent, ids, unaccounted = 0, set(), 0
    for message in kafka.read_since(settings, INPUT, marks.get(INPUT, {})):
        sent += 1
        if (str(message.partition()), str(message.offset())) in rejected:
            continue
        try:
            event = avro(message.value(), SerializationContext(INPUT, MessageField.VALUE))
            ids.add(str(event["event_id"]))
        except Exception:  # not an event of the input's schema, and not set aside (yet)
            unaccounted += 1
    return sent, len(dead), ids, unaccounted


def account(settings: MeshSettings, marks: Marks) -> Accounting:
    from mesh_adapters.lakehouse import iceberg_catalog

    sent, dead, valid, unaccounted = valid_event_ids(settings, marks)
    kept: dict[str, int] = {}
    rows: list[dict[str, Any]] = (
        iceberg_catalog(settings).load_table(HISTORY).scan(selected_fields=("event_id",)).to_arrow().to_pylist()
    )
    for row in rows:
        if row["event_id"] in valid:
            kept[row["event_id"]] = kept.get(row["event_id"], 0) + 1
    doubled = sum(1 for n in kept.values() if n > 1)
    return Accounting(sent, dead, len(valid), len(kept), doubled, unaccounted)


CUSTOMER_COLUMNS = ("customer_id", "email", "phone", "full_name", "country", "birth_year", "marketing_opt_in")
CUSTOMERS = "subscriptions.customers_customers_v1"


@dataclass(frozen=True)
class CustomersCompared:
    in_monolith: int
    served: int
    differ: int  # customers the two disagree on (or only one of them has)

    @property
    def same(self) -> bool:
        return self.differ == 0

    def __str__(self) -> str:
        return f"{self.in_monolith} customers in the monolith, {self.served} served, {self.differ} differ"


def customers_compared(settings: MeshSettings) -> CustomersCompared:
    """subscriptions.customers against the monolith's customers table as it is now, column by column."""
    import psycopg

    from mesh_adapters.lakehouse import iceberg_catalog

    with psycopg.connect(settings.postgres_dsn(settings.legacy_db)) as conn:
        listed = ", ".join(CUSTOMER_COLUMNS)
        legacy = {tuple(str(v).strip() for v in row) for row in conn.execute(f"SELECT {listed} FROM customers")}
    rows = iceberg_catalog(settings).load_table(CUSTOMERS).scan(selected_fields=CUSTOMER_COLUMNS).to_arrow()
    served = {tuple(str(r[c]).strip() for c in CUSTOMER_COLUMNS) for r in rows.to_pylist()}
    differ = {row[0] for row in legacy ^ served}
    return CustomersCompared(len(legacy), len(served), len(differ))


# --- the strangler fig: subscriptions.subscriptions while subscriptions leave the monolith ---------------

SUBSCRIPTIONS = "subscriptions.subscriptions_subscriptions_v1"
SUBSCRIPTION_CHANGES = "subscriptions.subscriptions_changes_v1"
SUBSCRIPTION_STREAM = "subscriptions.subscriptions.stream.v1"


def _plain(value: Any) -> str:
    from datetime import UTC, datetime

    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else str(value)


@dataclass(frozen=True)
class SubscriptionsCompared:
    owned: int  # subscriptions the monolith and the service own now, each by the route of its customer
    served: int
    differ: int

    @property
    def same(self) -> bool:
        return self.differ == 0

    def __str__(self) -> str:
        owned = f"{self.owned} subscriptions owned by the monolith or the service"
        return f"{owned}, {self.served} served, {self.differ} differ"


def subscriptions_compared(settings: MeshSettings) -> SubscriptionsCompared:
    """subscriptions.subscriptions against the subscriptions as their owners have them now."""
    from mesh_adapters.lakehouse import iceberg_catalog
    from mesh_sources.strangler import subscriptions_now
    from mesh_sources.subscriptions_service import SUBSCRIPTION_COLUMNS

    owned = {tuple(_plain(r[c]) for c in SUBSCRIPTION_COLUMNS) for r in subscriptions_now(settings).values()}
    table = iceberg_catalog(settings).load_table(SUBSCRIPTIONS)
    rows = table.scan(selected_fields=SUBSCRIPTION_COLUMNS).to_arrow().to_pylist()
    served = {tuple(_plain(r[c]) for c in SUBSCRIPTION_COLUMNS) for r in rows}
    return SubscriptionsCompared(len(owned), len(rows), len({row[0] for row in owned ^ served}))


@dataclass(frozen=True)
class ChangesAccounted:
    made: dict[str, int]  # changes the business made, by operation (c, u, d)
    kept: dict[str, int]  # in the product's change history since it began
    doubled: int  # (subscription, position) kept more than once
    streamed: int  # of the kept, on the product's stream (committed)
    streamed_twice: int

    @property
    def exact(self) -> bool:
        return (
            self.made == self.kept
            and not self.doubled
            and self.streamed == sum(self.kept.values())
            and not (self.streamed_twice)
        )

    def __str__(self) -> str:
        return (
            f"made {self.made}, kept {self.kept} ({self.doubled} twice), "
            f"{self.streamed} on the stream ({self.streamed_twice} twice)"
        )


def subscription_changes_accounted(settings: MeshSettings, made: dict[str, int], began: str) -> ChangesAccounted:
    """Every change the business made since `began` is in the history once and on the stream once."""
    from collections import Counter
    from datetime import datetime

    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from mesh_adapters.lakehouse import iceberg_catalog

    since = datetime.fromisoformat(began)
    history = iceberg_catalog(settings).load_table(SUBSCRIPTION_CHANGES)
    rows = history.scan(selected_fields=("subscription_id", "position", "op", "changed_at")).to_arrow().to_pylist()
    window = [r for r in rows if r["changed_at"] >= since and r["op"] != "r"]
    keys = Counter((r["subscription_id"], r["position"]) for r in window)
    kept = {op: sum(1 for r in window if r["op"] == op) for op in made}
    avro = AvroDeserializer(SchemaRegistryClient({"url": settings.schema_registry_url}))
    on_stream: Counter[tuple[Any, Any]] = Counter()
    for message in kafka.read_since(settings, SUBSCRIPTION_STREAM, {}, timeout_s=60):
        record = avro(message.value(), SerializationContext(SUBSCRIPTION_STREAM, MessageField.VALUE))
        key = (record["subscription_id"], record["position"])
        if key in keys:
            on_stream[key] += 1
    return ChangesAccounted(
        made,
        kept,
        sum(1 for n in keys.values() if n > 1),
        len(on_stream),
        sum(1 for n in on_stream.values() if n > 1),
    )
