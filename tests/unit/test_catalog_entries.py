"""Catalog entries from real discovery documents, and the registry's push, pull and availability rules."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mesh_catalog import Catalog, MalformedDocument, Status, UnknownProduct, parse_entry
from mesh_sdk.spec.product import dump, load_product
from mesh_testing.products import product_folders

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
VIEWING = "urn:mesh:engagement:viewing:v1"


@cache
def _documents() -> dict[str, dict[str, Any]]:
    """What each product serves at `GET /`, built the way its REST port builds it, without a server."""
    docs = {}
    for folder in product_folders(PRODUCTS):
        docs[folder.name] = dump(load_product(folder)) | {"ports": {"rest": f"http://127.0.0.1/{folder.name}"}}
    return docs


def document(name: str) -> dict[str, Any]:
    return copy.deepcopy(_documents()[name])


def test_every_real_product_reads_into_an_entry() -> None:
    entries = {name: parse_entry(document(name), f"http://{name}", NOW) for name in _documents()}
    assert len(entries) == len(product_folders(PRODUCTS))
    for name, entry in entries.items():
        assert f"{entry.domain}.{entry.name}" == name
        assert entry.owner is not None and entry.owner.contact
        assert entry.columns and entry.queries and entry.output_ports
        assert entry.slos.freshness_seconds is not None
        assert entry.availability.status is Status.AVAILABLE and entry.availability.last_seen == NOW


def test_an_entry_says_where_its_data_comes_from_and_what_its_columns_are() -> None:
    viewing = parse_entry(document("engagement.viewing"), "http://viewing", NOW)
    assert viewing.id == VIEWING and viewing.type == "derived"
    assert [(p.name, p.kind, p.source, p.port) for p in viewing.input_ports] == [
        ("playback", "product", "urn:mesh:playback:events:v1", "history"),
        ("titles", "product", "urn:mesh:content:titles:v1", "titles"),
        ("customers", "product", "urn:mesh:subscriptions:customers:v1", "customers"),
    ]
    assert viewing.tables == ("daily", "sessions")
    key = [c.name for c in viewing.columns if c.table == "daily" and c.primary_key]
    assert key == ["day", "customer_id", "title_id"]
    watch = next(c for c in viewing.columns if c.name == "watch_seconds" and c.table == "daily")
    assert watch.logical_type == "number" and watch.description

    playback = parse_entry(document("playback.events"), "http://playback", NOW)
    (telemetry,) = playback.input_ports
    assert telemetry.external and telemetry.source == "playback.telemetry.raw.v1"
    assert [c.name for c in playback.columns if c.pii] == ["country"]
    assert {(q.name, q.language) for q in playback.queries} >= {("latest_events", "graphql")}


def test_tags_come_from_the_descriptor_and_the_contract() -> None:
    doc = document("content.titles")
    doc["descriptor"]["tags"] = ["catalogue", "films"]
    doc["contract"]["tags"] = ["films", "outbox"]
    assert parse_entry(doc, "http://titles", NOW).tags == ("catalogue", "films", "outbox")


def test_registration_replaces_the_entry_and_its_document() -> None:
    catalog = Catalog()
    catalog.register(document("engagement.viewing"), "http://old", NOW)
    newer = document("engagement.viewing")
    newer["descriptor"]["description"] = "Watch time, restated."
    catalog.register(newer, "http://new", NOW + timedelta(minutes=1))
    (entry,) = catalog.all()
    assert entry.description == "Watch time, restated." and entry.url == "http://new"
    assert entry.document["descriptor"]["description"] == "Watch time, restated."


def test_a_product_that_goes_away_is_marked_unavailable_never_deleted() -> None:
    catalog = Catalog()
    catalog.register(document("engagement.viewing"), "http://viewing", NOW)
    catalog.unreachable(VIEWING, "connection refused", NOW + timedelta(minutes=1))
    later = catalog.unreachable(VIEWING, "timed out", NOW + timedelta(minutes=2))
    assert later.availability.status is Status.UNAVAILABLE
    assert later.availability.last_seen == NOW
    assert later.availability.unavailable_since == NOW + timedelta(minutes=1)
    assert later.availability.last_error == "timed out"
    assert [e.id for e in catalog.all()] == [VIEWING] and catalog.domains() == {"engagement": [VIEWING]}
    assert later.columns == catalog.get(VIEWING).columns  # what it was stays visible

    back = catalog.refreshed(VIEWING, document("engagement.viewing"), NOW + timedelta(minutes=3))
    assert back.availability.status is Status.AVAILABLE and back.availability.unavailable_since is None
    assert back.url == "http://viewing"


def test_a_pull_must_answer_for_the_product_it_was_asked_about() -> None:
    catalog = Catalog()
    catalog.register(document("engagement.viewing"), "http://viewing", NOW)
    with pytest.raises(MalformedDocument, match=r"descriptor\.id is 'urn:mesh:playback:events:v1'"):
        catalog.refreshed(VIEWING, document("playback.events"), NOW)
    with pytest.raises(UnknownProduct, match="urn:mesh:nope:nope:v1"):
        catalog.unreachable("urn:mesh:nope:nope:v1", "gone", NOW)


def test_domains_list_their_products() -> None:
    catalog = Catalog()
    for name in _documents():
        catalog.register(document(name), f"http://{name}", NOW)
    domains = catalog.domains()
    assert list(domains) == sorted(domains)
    assert domains["subscriptions"] == [
        "urn:mesh:subscriptions:customers:v1",
        "urn:mesh:subscriptions:subscriptions:v1",
    ]


DROP = object()


def _change(path: str, value: Any = DROP) -> Any:
    """Set (or drop) the value at a dotted path such as `descriptor.inputPorts.0.kind`."""

    def change(doc: dict[str, Any]) -> None:
        *parents, last = (int(p) if p.isdigit() else p for p in path.split("."))
        target: Any = doc
        for part in parents:
            target = target[part]
        if value is DROP:
            del target[last]
        else:
            target[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (_change("descriptor"), "descriptor", "is missing"),
        (_change("descriptor.id"), "descriptor.id", "is missing"),
        (_change("descriptor.domain", ""), "descriptor.domain", "is missing"),
        (_change("descriptor.owner.team", 42), "descriptor.owner.team", "is a number, expected a string"),
        (_change("descriptor.inputPorts.0.kind", "ftp"), "descriptor.inputPorts[0].kind", "is 'ftp', expected one of"),
        (_change("descriptor.inputPorts.0.topic"), "descriptor.inputPorts[0].topic", "is missing"),
        (_change("descriptor.outputPorts", {"history": "iceberg"}), "descriptor.outputPorts", "expected a list"),
        (
            _change("contract.schema.0.properties.1", "session_id"),
            "contract.schema[0].properties[1]",
            "expected an object",
        ),
        (
            _change("descriptor.slos.freshness_seconds", "soon"),
            "descriptor.slos.freshness_seconds",
            "expected a number",
        ),
        (_change("queries.0.language", None), "queries[0].language", "is missing"),
    ],
)
def test_a_malformed_document_names_the_field(change: Any, field: str, problem: str) -> None:
    doc = document("playback.events")
    change(doc)
    catalog = Catalog()
    with pytest.raises(MalformedDocument) as caught:
        catalog.register(doc, "http://playback", NOW)
    assert caught.value.field == field and problem in caught.value.problem
    assert str(caught.value).startswith(f"malformed discovery document from http://playback: {field} ")
    assert catalog.all() == []


def test_a_document_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(MalformedDocument, match="<root> is a list, expected an object"):
        parse_entry([], "http://x", NOW)
