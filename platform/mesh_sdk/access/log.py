"""The access log's Kafka adapter: one JSON message per data access on `mesh.access`, keyed by the
consumer, for the audit log to append to its chain. Sending never blocks a request; a failed delivery
is logged and counted (librdkafka retries first)."""

from __future__ import annotations

import json
import logging
from typing import Any

from confluent_kafka import Producer

from mesh_adapters.kafka import Kafka
from mesh_sdk.access.gate import ACCESS_TOPIC, AccessEvent

log = logging.getLogger(__name__)


class KafkaAccessLog:
    def __init__(self, kafka_clients: Kafka) -> None:
        kafka_clients.ensure_topics([ACCESS_TOPIC], partitions=1)
        self.producer: Producer = kafka_clients.producer()
        self.failures = 0

    def _delivered(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self.failures += 1
            log.error("an access record was not delivered to %s: %s", ACCESS_TOPIC, err)

    def record(self, event: AccessEvent) -> None:
        value = json.dumps(event.to_json()).encode()
        key = (event.consumer or "").encode()
        try:
            self.producer.produce(ACCESS_TOPIC, key=key, value=value, on_delivery=self._delivered)
        except BufferError:
            self.producer.poll(1)
            self.producer.produce(ACCESS_TOPIC, key=key, value=value, on_delivery=self._delivered)
        self.producer.poll(0)

    def confirm(self, timeout_s: float = 10.0) -> None:
        """Wait until every record so far is delivered; raises if one was not (so its source keeps it)."""
        failures = self.failures
        left = self.producer.flush(timeout_s)
        if left or self.failures != failures:
            raise RuntimeError(
                f"{left or self.failures - failures} access records were not delivered to {ACCESS_TOPIC}"
            )
