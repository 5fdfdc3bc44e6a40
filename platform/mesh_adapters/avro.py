"""Avro in the schema registry's wire format (magic byte 0, 4-byte schema id, Avro body).

fastavro directly, with writer schemas fetched once per id: confluent-kafka's serde classes do per-call
work (rule and tag resolution) that costs more than the decoding itself at ingest rates."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

_HEADER = struct.Struct(">bI")


class WireFormatError(ValueError):
    """The bytes are not in the registry's wire format, or name a schema the registry does not have."""


class RegistryUnavailable(RuntimeError):
    """The registry did not answer: the message may be fine; try again rather than judge it."""


def _registered_schema(registry: SchemaRegistryClient, schema_id: int) -> Any:
    """The writer schema of an id, parsed; a defect of the message is a WireFormatError."""
    try:
        registered = registry.get_schema(schema_id)
    except SchemaRegistryError as exc:
        if exc.http_status_code == 404:
            raise WireFormatError(f"schema id {schema_id} is not in the registry ({exc})") from None
        raise RegistryUnavailable(f"the schema registry failed to return schema id {schema_id}: {exc}") from exc
    except Exception as exc:  # the client raises its HTTP library's errors when the registry is down
        raise RegistryUnavailable(f"the schema registry did not answer for schema id {schema_id}: {exc}") from exc
    try:
        return json.loads(registered.schema_str or "null")
    except ValueError as exc:
        raise WireFormatError(f"schema id {schema_id} is not a usable Avro schema ({exc})") from None


def _body(payload: bytes) -> tuple[int, io.BytesIO]:
    if len(payload) < _HEADER.size or payload[0] != 0:
        raise WireFormatError("not in the registry's Avro wire format (magic byte 0 + schema id)")
    _magic, schema_id = _HEADER.unpack_from(payload)
    return schema_id, io.BytesIO(payload[_HEADER.size :])


def _read(body: io.BytesIO, size: int, schema_id: int, writer: Any, reader: Any = None) -> Any:
    try:
        value = fastavro.schemaless_reader(body, writer, reader)
    except Exception as exc:  # fastavro raises several types for a body its schema cannot read
        raise WireFormatError(f"the Avro body cannot be read with schema id {schema_id}: {exc!r}") from None
    if body.tell() != size:
        raise WireFormatError(f"trailing bytes after the Avro value (schema id {schema_id})")
    return value


class AvroWireDecoder:
    """Reads any registered writer schema into the reader's schema (Avro schema resolution)."""

    def __init__(self, registry: SchemaRegistryClient, reader_schema: dict[str, Any]) -> None:
        self._registry = registry
        self._reader_json = json.dumps(reader_schema, sort_keys=True)
        # uuid fields are read as the strings they are on the wire, not as uuid.UUID objects.
        self._reader = fastavro.parse_schema(_without_uuid_logical_type(reader_schema))
        self._writers: dict[int, Any] = {}

    def _writer(self, schema_id: int) -> Any:
        writer = self._writers.get(schema_id)
        if writer is None:
            parsed = _registered_schema(self._registry, schema_id)
            # The same schema as the reader's needs no resolution step.
            same = json.dumps(parsed, sort_keys=True) == self._reader_json
            try:
                writer = self._reader if same else fastavro.parse_schema(_without_uuid_logical_type(parsed))
            except Exception as exc:  # fastavro raises several types for a schema it cannot use
                raise WireFormatError(f"schema id {schema_id} is not a usable Avro schema ({exc})") from None
            self._writers[schema_id] = writer
        return writer

    def __call__(self, payload: bytes) -> dict[str, Any]:
        schema_id, body = _body(payload)
        writer = self._writer(schema_id)
        reader = None if writer is self._reader else self._reader
        record = _read(body, len(payload) - _HEADER.size, schema_id, writer, reader)
        if not isinstance(record, dict):
            raise WireFormatError("the payload is not a record")
        return record


class AvroWireReader:
    """Reads any payload with its own writer schema, no reader schema: for consumers that take whatever
    each topic holds (change events Debezium registered, upstream products' streams, the audit log).
    Returns what the schema describes: a record (dict), a string, ...

    Every defect of the payload is a WireFormatError; a registry that cannot be reached raises
    RegistryUnavailable, so that callers retry rather than judge the message unreadable."""

    def __init__(self, registry: SchemaRegistryClient) -> None:
        self._registry = registry
        self._writers: dict[int, Any] = {}

    def _writer(self, schema_id: int) -> Any:
        writer = self._writers.get(schema_id)
        if writer is None:
            parsed = _registered_schema(self._registry, schema_id)
            try:
                writer = fastavro.parse_schema(_without_uuid_logical_type(parsed))
            except Exception as exc:  # fastavro raises several types for a schema it cannot use
                raise WireFormatError(f"schema id {schema_id} is not a usable Avro schema ({exc})") from None
            self._writers[schema_id] = writer
        return writer

    def __call__(self, payload: bytes) -> Any:
        schema_id, body = _body(payload)
        return _read(body, len(payload) - _HEADER.size, schema_id, self._writer(schema_id))


class AvroWireEncoder:
    """Writes records with one schema, registered under `subject` (BACKWARD compatibility applies)."""

    def __init__(self, registry: SchemaRegistryClient, subject: str, schema: dict[str, Any]) -> None:
        schema_id = registry.register_schema(subject, Schema(json.dumps(schema), "AVRO"))
        self._prefix = _HEADER.pack(0, schema_id)
        self._schema = fastavro.parse_schema(schema)

    def __call__(self, record: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self._prefix)
        fastavro.schemaless_writer(buffer, self._schema, record)
        return buffer.getvalue()


def _without_uuid_logical_type(schema: Any) -> Any:
    if isinstance(schema, dict):
        if schema.get("logicalType") == "uuid":
            return {k: v for k, v in schema.items() if k != "logicalType"}
        return {k: _without_uuid_logical_type(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_without_uuid_logical_type(s) for s in schema]
    return schema
