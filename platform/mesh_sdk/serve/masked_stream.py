"""A product's stream with its PII masked, for consumers whose grants leave PII out: a stream carries
whole rows, so the broker cannot mask a field, and the product publishes a second topic,
`<domain>.<product>.<port>-masked.v<major>`, holding every committed record of the stream in the same
order with the PII fields masked as the other ports mask them. Exactly once: each batch is read, masked,
written and its read position committed in one Kafka transaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_INVALID,
    Consumer,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.schema_registry import SchemaRegistryClient

from mesh_adapters import kafka
from mesh_adapters.avro import AvroWireDecoder, AvroWireEncoder
from mesh_adapters.kafka import Kafka
from mesh_config.naming import ProductName, product_of_topic
from mesh_sdk.serve.reader import MASK

log = logging.getLogger(__name__)

_DEFAULTS: dict[str, Any] = {"int": 0, "long": 0, "float": 0.0, "double": 0.0, "boolean": False, "bytes": b""}


def masked_topic(topic: str) -> str:
    """The masked twin of a product's topic: its port name with `-masked`."""
    product = product_of_topic(topic)
    if product is None:
        raise ValueError(f"{topic!r} is not a product's topic")
    return ProductName.of(product).masked_topic(topic.split(".")[2])


def _masked_value(avro_type: Any) -> Any:
    """What a masked field holds: the ports' mask for a plain string, null where the type allows it,
    else the type's zero (a schema field must hold a value of its type)."""
    if isinstance(avro_type, list):
        return None if "null" in avro_type else _masked_value(avro_type[0])
    if avro_type == "string":
        return MASK
    if isinstance(avro_type, dict):  # an enum's first symbol; a logical type's zero (the epoch, say)
        return avro_type["symbols"][0] if avro_type.get("type") == "enum" else _masked_value(avro_type.get("type"))
    return _DEFAULTS.get(str(avro_type))


def masker(schema: Mapping[str, Any], pii: Iterable[str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function masking the `pii` fields of a record of the Avro record schema `schema`."""
    wanted = set(pii)
    masks = {f["name"]: _masked_value(f["type"]) for f in schema["fields"] if f["name"] in wanted}

    def mask(record: dict[str, Any]) -> dict[str, Any]:
        return record | {name: value for name, value in masks.items() if record.get(name) is not None}

    return mask


class MaskedStream:
    def __init__(
        self,
        consumer: Consumer,
        new_producer: Callable[[], Producer],
        source: str,
        partitions: int,
        decode: Callable[[bytes], dict[str, Any]],
        mask: Callable[[dict[str, Any]], dict[str, Any]],
        encode: Callable[[dict[str, Any]], bytes],
        batch_size: int = 500,
    ) -> None:
        # A transactional producer, made again (same id, so the old one is fenced) if it fails for good.
        self.consumer, self.new_producer, self.producer = consumer, new_producer, new_producer()
        self._producer_broken = False
        self.source, self.target, self.partitions = source, masked_topic(source), partitions
        self.decode, self.mask, self.encode = decode, mask, encode
        self.batch_size = batch_size
        self.published = 0

    def start(self) -> None:
        """Fence any earlier instance's open transaction, then read on from the committed position."""
        self.producer.init_transactions(30)
        self._from_committed()

    def _from_committed(self) -> None:
        wanted = [TopicPartition(self.source, p) for p in range(self.partitions)]
        committed = self.consumer.committed(wanted, timeout=30)
        for tp in committed:
            tp.offset = OFFSET_BEGINNING if tp.offset == OFFSET_INVALID else tp.offset
        self.consumer.assign(committed)

    def run(self, stopping: threading.Event) -> None:
        backoff = 1.0
        while not stopping.is_set():
            try:
                self.step(timeout_s=0.5)
                backoff = 1.0
            except Exception as exc:
                if kafka.fenced(exc):
                    log.error("another instance publishes %s (fenced); this one stops", self.target)
                    return
                self._producer_broken = self._producer_broken or kafka.fatal(exc)
                # The broker or the registry restarting, say: undo the transaction, go on from the committed.
                log.warning("the masked stream %s steps back %.0f s after: %s", self.target, backoff, exc)
                stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                self._rewind()

    def step(self, timeout_s: float = 1.0) -> int:
        """Mask and publish the next batch in one transaction; returns how many records it held."""
        messages = [m for m in self.consumer.consume(self.batch_size, timeout_s) if self._readable(m)]
        if not messages:
            return 0
        self.producer.begin_transaction()
        for message in messages:
            raw = message.value()
            value = None if raw is None else self.encode(self.mask(self.decode(raw)))  # a tombstone stays one
            self.producer.produce(self.target, key=message.key(), value=value, headers=message.headers())
            self.producer.poll(0)
        positions = self.consumer.position(self.consumer.assignment())
        self.producer.send_offsets_to_transaction(positions, self.consumer.consumer_group_metadata(), 30)
        self.producer.commit_transaction(60)
        self.published += len(messages)
        return len(messages)

    def _readable(self, message: Message) -> bool:
        error = message.error()
        if error is not None:
            log.debug("reading %s: %s", self.source, error)
            return False
        return True

    def _rewind(self) -> None:
        try:
            if self._producer_broken:
                log.warning("the masked stream %s's producer failed for good: a new one takes its place", self.target)
                self.producer.purge()
                self.producer = self.new_producer()
                self.producer.init_transactions(30)
                self._producer_broken = False
            self.producer.abort_transaction(30)
        except KafkaException as exc:
            log.debug("no transaction to abort: %s", exc)
        try:
            self._from_committed()
        except KafkaException as exc:  # still down: the next step fails and rewinds again
            log.debug("rewinding %s: %s", self.source, exc)

    def close(self) -> None:
        try:
            self.consumer.close()
        except Exception as exc:
            log.debug("closing the masked stream's consumer: %s", exc)


def masked_stream(
    kafka_clients: Kafka, registry: SchemaRegistryClient, product_id: str, topic: str, schema: dict[str, Any],
    pii: Iterable[str],
) -> MaskedStream | None:  # fmt: skip
    """The masked twin of one of a product's streams (its topic made beside it), or None when the
    stream holds no PII field."""
    fields = {f["name"] for f in schema["fields"]} & set(pii)
    if not fields:
        return None
    partitions = kafka_clients.ensure_topics([topic])[topic]
    target = masked_topic(topic)
    kafka_clients.ensure_topics([target], partitions=partitions)
    return MaskedStream(
        kafka_clients.consumer(group=f"{product_id}.masked-stream"),
        lambda: kafka_clients.producer(**{"transactional.id": f"{product_id}.{target}"}),
        topic,
        partitions,
        AvroWireDecoder(registry, schema),
        masker(schema, fields),
        AvroWireEncoder(registry, f"{target}-value", schema),
    )
