"""The control topic (`mesh.control`, one partition, compacted): how the platform's governance policies
and access list reach every running product without a restart. The catalog publishes the policies in
force under the key `policies`, and the identities and grants under the key `access`, whenever they
change; each product reads the topic from its start (so a product started later gets the latest at once)
and applies each message as it arrives.

A message the product cannot read is logged and skipped: the policies in force stay as they were."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from mesh_adapters import kafka
from mesh_adapters.kafka import Kafka
from mesh_config import MeshSettings
from mesh_sdk.access.gate import ACCESS_KEY, AccessGate
from mesh_sdk.access.policy import PolicyState

log = logging.getLogger(__name__)

POLICIES_KEY = b"policies"


def ensure_control_topic(settings: MeshSettings) -> None:
    kafka.ensure_topics(settings, [settings.control_topic], partitions=1, **{"cleanup.policy": "compact"})


def policies_message(version: int, digest: str, directives: dict[str, Any]) -> bytes:
    return json.dumps({"kind": "policies", "version": version, "digest": digest, "directives": directives}).encode()


def apply_message(policy: PolicyState, value: bytes | None) -> bool:
    """Apply one `policies` message; False (and a log line) when it cannot be read."""
    try:
        message = json.loads(value or b"")
        directives = message["directives"]
        classes = directives.get("mask_classifications", [])
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise ValueError("directives.mask_classifications is not a list of text")
        masked = policy.apply_platform(int(message["version"]), str(message["digest"]), classes)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring an unreadable message on the control topic: %s", exc)
        return False
    log.info("governance policies v%s applied: masking %s", message["version"], sorted(masked) or "nothing")
    return True


class ControlListener:
    """A thread that applies the control topic's messages: `policies` to the product's policy state,
    `access` to its access gate."""

    def __init__(
        self, kafka_clients: Kafka, topic: str, policy: PolicyState, product_id: str, access: AccessGate
    ) -> None:
        self.kafka, self.policy, self.access = kafka_clients, policy, access
        self.topic = topic
        self.applied = 0
        self._consumer: Consumer | None = None
        self._group = f"{product_id}.control"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="control-topic", daemon=True)

    def start(self) -> None:
        try:
            self.kafka.ensure_topics([self.topic], partitions=1, **{"cleanup.policy": "compact"})
            self._consumer = self.kafka.consumer(group=self._group)
            self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        except Exception as exc:
            log.warning("not listening to the control topic %s: %s", self.topic, exc)
            return
        self._thread.start()

    def _run(self) -> None:
        assert self._consumer is not None
        while not self._stop.is_set():
            message = self._consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            appliers = {POLICIES_KEY: lambda v: apply_message(self.policy, v), ACCESS_KEY: self.access.apply_message}
            apply = appliers.get(message.key() or b"")
            if apply is not None and apply(message.value()):
                self.applied += 1

    def stop(self) -> bool:
        """True when the thread has ended and the consumer is closed."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._thread.is_alive():
            return False
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception as exc:
                log.debug("closing the control consumer: %s", exc)
        return True
