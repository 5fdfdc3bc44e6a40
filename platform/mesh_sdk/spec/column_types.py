"""One contract, many physical forms: the same columns as Arrow, Iceberg and Avro types."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from open_data_contract_standard.model import SchemaProperty
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BooleanType,
    DateType,
    DoubleType,
    IcebergType,
    LongType,
    NestedField,
    StringType,
    TimestamptzType,
)

_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}
_ICEBERG: dict[str, IcebergType] = {
    "string": StringType(),
    "integer": LongType(),
    "number": DoubleType(),
    "boolean": BooleanType(),
    "timestamp": TimestamptzType(),
    "date": DateType(),
}
_AVRO: dict[str, Any] = {
    "string": "string",
    "integer": "long",
    "number": "double",
    "boolean": "boolean",
    "timestamp": {"type": "long", "logicalType": "timestamp-millis"},
    "date": {"type": "int", "logicalType": "date"},
}


def _name(prop: SchemaProperty) -> str:
    assert prop.name, "contract properties are validated to have names"
    return prop.name


def arrow_schema(props: list[SchemaProperty]) -> pa.Schema:
    return pa.schema([pa.field(_name(p), _ARROW[p.logicalType or "string"], nullable=not p.required) for p in props])


def iceberg_schema(props: list[SchemaProperty]) -> Schema:
    return Schema(
        *[
            NestedField(i, _name(p), _ICEBERG[p.logicalType or "string"], required=bool(p.required), doc=p.description)
            for i, p in enumerate(props, start=1)
        ]
    )


def avro_schema(props: list[SchemaProperty], name: str, namespace: str, doc: str = "") -> dict[str, Any]:
    fields = []
    for p in props:
        avro_type = _AVRO[p.logicalType or "string"]
        fields.append(
            {
                "name": _name(p),
                "type": avro_type if p.required else ["null", avro_type],
                "doc": p.description or "",
            }
            | ({} if p.required else {"default": None})
        )
    return {"type": "record", "name": name, "namespace": namespace, "doc": doc, "fields": fields}


def avro_logical_type(avro_type: Any) -> str | None:
    """The contract logicalType an Avro field type corresponds to (None when it has none)."""
    if isinstance(avro_type, list):
        non_null = [t for t in avro_type if t != "null"]
        return avro_logical_type(non_null[0]) if len(non_null) == 1 else None
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical in ("timestamp-millis", "timestamp-micros"):
            return "timestamp"
        if logical == "date":
            return "date"
        if avro_type.get("type") == "enum" or logical == "uuid":
            return "string"
        return avro_logical_type(avro_type.get("type"))
    return {
        "string": "string",
        "int": "integer",
        "long": "integer",
        "float": "number",
        "double": "number",
        "boolean": "boolean",
    }.get(avro_type)
