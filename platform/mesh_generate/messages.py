"""What the generator hands to a sender: a record to serialise with the registered schema, or raw bytes,
each labelled with the kind of traffic it is so that everything sent can be counted exactly."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mesh_generate.playback_sessions import PlaybackRecord

# The Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the Avro body.
WIRE_HEADER_BYTES = 5
UNKNOWN_SCHEMA_ID = 2**31 - 1  # registries hand out small ids from 1 up; this one is never assigned


class Kind(StrEnum):
    VALID = "valid"
    DUPLICATE = "duplicate"  # the same event, same event_id, sent again
    LATE = "late"  # a valid event delivered well after it happened, out of order
    UNDECODABLE = "undecodable"  # not the Confluent wire format at all
    SCHEMA_INVALID = "schema-invalid"  # looks like a record but cannot be read with a registered schema
    CONTRACT_BREAKING = "contract-breaking"  # valid Avro that breaks a quality rule of the contract


MALFORMED_KINDS = (Kind.UNDECODABLE, Kind.SCHEMA_INVALID, Kind.CONTRACT_BREAKING)


class WireDefect(StrEnum):
    """Damage done to a record after it is serialised: the schema id is only known at that point."""

    UNKNOWN_SCHEMA_ID = "unknown-schema-id"
    TRUNCATED = "truncated-avro"


@dataclass(frozen=True, slots=True)
class AvroMessage:
    """A record to serialise with the registered schema (then damaged, if `wire_defect` says so)."""

    kind: Kind
    record: PlaybackRecord
    defect: str = ""  # what is wrong with it, for people reading a dead-letter queue
    wire_defect: WireDefect | None = None

    @property
    def key(self) -> str:
        return self.record["session_id"]


@dataclass(frozen=True, slots=True)
class RawMessage:
    """Bytes sent as they are."""

    kind: Kind
    key: str
    payload: bytes
    defect: str


Outgoing = AvroMessage | RawMessage


def apply_wire_defect(payload: bytes, defect: WireDefect) -> bytes:
    """Damage a serialised record (Confluent wire format) the way `defect` says."""
    if defect is WireDefect.UNKNOWN_SCHEMA_ID:
        return payload[:1] + UNKNOWN_SCHEMA_ID.to_bytes(4, "big") + payload[WIRE_HEADER_BYTES:]
    # Half the body cuts through the first fields, so a reader runs out of bytes.
    return payload[: WIRE_HEADER_BYTES + (len(payload) - WIRE_HEADER_BYTES) // 2]
