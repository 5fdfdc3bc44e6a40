"""From a Kafka message to the change it carries: topic kind, Avro decoding, and what to do with
messages that cannot be read (recorded anyway, and sent to the dead-letter topic)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from mesh_adapters.avro import WireFormatError
from mesh_audit.config import ACCESS_PATTERN, CDC_PATTERN, STREAM_PATTERN
from mesh_audit.events import (
    Coordinates,
    access_change,
    cdc_change,
    entity_key,
    from_millis,
    stream_change,
    unreadable_change,
)
from mesh_audit.record import Change


class TopicKind(StrEnum):
    CDC = "cdc"
    STREAM = "stream"
    ACCESS = "access"


@dataclass(frozen=True)
class RawMessage:
    """A consumed message, detached from the Kafka client."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]] = ()

    @property
    def coordinates(self) -> Coordinates:
        return Coordinates(self.topic, self.partition, self.offset, self._timestamp())

    def _timestamp(self) -> datetime | None:
        return from_millis(self.timestamp_ms) if self.timestamp_ms is not None and self.timestamp_ms >= 0 else None


@dataclass(frozen=True)
class Unreadable:
    """A message recorded as "unreadable": the change stands for its raw bytes, `reason` says why."""

    change: Change
    reason: str


class ChangeReader:
    """Reads any message of the audited topics; `decode` reads the registry's wire format (writer
    schema only) and raises WireFormatError for payloads it cannot read."""

    def __init__(
        self,
        decode: Callable[[bytes], Any],
        cdc_pattern: str = CDC_PATTERN,
        stream_pattern: str = STREAM_PATTERN,
        access_pattern: str = ACCESS_PATTERN,
    ) -> None:
        self._decode = decode
        self._patterns = (
            (TopicKind.CDC, re.compile(cdc_pattern)),
            (TopicKind.STREAM, re.compile(stream_pattern)),
            (TopicKind.ACCESS, re.compile(access_pattern)),
        )

    def kind(self, topic: str) -> TopicKind | None:
        for kind, pattern in self._patterns:
            if pattern.search(topic):
                return kind
        return None

    def read(self, msg: RawMessage) -> Change | Unreadable | None:
        """The message's change; an Unreadable; or None for a tombstone (a null value).

        Only a registry that cannot be reached raises (the batch is retried later): anything wrong
        with the message itself makes it Unreadable, so one bad message can never stop the log."""
        if msg.value is None:  # Debezium's follow-up to a delete, for log compaction: nothing changed
            return None
        at = msg.coordinates
        kind = self.kind(msg.topic)
        key: str | None = None
        try:
            if kind is TopicKind.CDC:
                decoded_key = self._cdc_key(msg.key)
                key = entity_key(decoded_key)
                value = self._decode(msg.value)
            elif kind is TopicKind.STREAM:
                key = self._text_key(msg.key)
                value = self._decode(msg.value)
            elif kind is TopicKind.ACCESS:
                key = self._text_key(msg.key)
                try:
                    value = json.loads(msg.value)
                except ValueError as exc:  # UnicodeDecodeError included: it names the value, not the key
                    return self._unreadable(msg, key, f"an access record that is not JSON: {exc}")
            else:
                return self._unreadable(msg, key, f"topic {msg.topic!r} matches none of the audited patterns")
        except WireFormatError as exc:
            return self._unreadable(msg, key, str(exc))
        except UnicodeDecodeError as exc:
            return self._unreadable(msg, key, f"the key is not UTF-8 text: {exc}")
        try:
            if kind is TopicKind.CDC:
                headers = {k: v for k, v in msg.headers if v is not None}
                return cdc_change(at, decoded_key, value, headers)
            if kind is TopicKind.ACCESS:
                return access_change(at, value)
            return stream_change(at, key, value)
        except Exception as exc:  # decoded, but not a shape the audit log can describe
            return self._unreadable(msg, key, f"decoded, but not a change event: {exc!r}")

    @staticmethod
    def _unreadable(msg: RawMessage, key: str | None, reason: str) -> Unreadable:
        assert msg.value is not None
        return Unreadable(unreadable_change(msg.coordinates, key, msg.value), reason)

    def _cdc_key(self, raw: bytes | None) -> Any:
        if raw is None:
            return None
        if raw[:1] == b"\x00":
            return self._decode(raw)
        # A text key (an outbox router's string converter): UTF-8 never begins with a NUL byte.
        return raw.decode("utf-8")

    @staticmethod
    def _text_key(raw: bytes | None) -> str | None:
        return None if raw is None else raw.decode("utf-8")
