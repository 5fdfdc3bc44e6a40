"""The masked twin of a product's stream: its name, and what a masked field holds for each Avro type."""

from __future__ import annotations

from typing import Any

import fastavro
import pytest

from mesh_sdk.serve.masked_stream import masked_topic, masker

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Customer",
    "fields": [
        {"name": "customer_id", "type": "long"},
        {"name": "email", "type": "string"},
        {"name": "full_name", "type": ["null", "string"]},
        {"name": "birth_year", "type": ["null", "int"]},
        {"name": "score", "type": "int"},
        {"name": "tier", "type": {"type": "enum", "name": "Tier", "symbols": ["basic", "premium"]}},
        {"name": "signed_up", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}
PII = ["email", "full_name", "birth_year", "score", "tier", "signed_up"]


def test_the_masked_twin_of_a_stream_is_named_after_its_port() -> None:
    assert masked_topic("subscriptions.customers.stream.v1") == "subscriptions.customers.stream-masked.v1"
    with pytest.raises(ValueError, match="not a product's topic"):
        masked_topic("mesh.access")


def test_pii_fields_are_masked_with_a_value_of_their_type_and_the_rest_kept() -> None:
    record = {
        "customer_id": 42,
        "email": "ada@example.com",
        "full_name": "Ada Lovelace",
        "birth_year": 1815,
        "score": 7,
        "tier": "premium",
        "signed_up": 1_700_000_000_000,
    }
    masked = masker(SCHEMA, PII)(record)
    assert masked == {
        "customer_id": 42,
        "email": "***",  # what REST, GraphQL and SQL show
        "full_name": None,  # nullable: null
        "birth_year": None,
        "score": 0,  # not nullable: the type's zero
        "tier": "basic",
        "signed_up": 0,
    }
    assert fastavro.validation.validate(masked, fastavro.parse_schema(SCHEMA))
    assert record["email"] == "ada@example.com", "the record read is left as it was"


def test_a_field_that_is_null_stays_null_and_fields_outside_the_schema_are_ignored() -> None:
    mask = masker(SCHEMA, ["full_name", "not_a_field"])
    assert mask({"customer_id": 1, "full_name": None})["full_name"] is None
