"""Search across the seven real products: by column, name, description, tag and owner, with filters."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from mesh_catalog import Catalog, CatalogEntry, search
from mesh_sdk.spec.product import dump, load_product
from mesh_testing.products import product_folders

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@cache
def _documents() -> dict[str, dict[str, Any]]:
    """What each product serves at `GET /`, built the way its REST port builds it, without a server."""
    docs = {}
    for folder in product_folders(PRODUCTS):
        docs[folder.name] = dump(load_product(folder)) | {"ports": {}}
    return docs


def catalog(**changes: dict[str, Any]) -> list[CatalogEntry]:
    cat = Catalog()
    for name, doc in _documents().items():
        cat.register({**doc, **changes.get(name, {})}, f"http://{name}", NOW)
    return cat.all()


def names(query: str, **filters: str) -> list[str]:
    return [f"{h.entry.domain}.{h.entry.name}" for h in search(catalog(), query, **filters)]


def test_a_column_name_finds_its_product_and_says_where_it_matched() -> None:
    (hit,) = search(catalog(), "watch_seconds")
    assert hit.entry.id == "urn:mesh:engagement:viewing:v1"
    assert hit.matches == ("column watch_seconds of table daily", "column watch_seconds of table sessions")


def test_the_start_of_a_column_name_is_enough() -> None:
    (hit,) = search(catalog(), "at_risk")
    assert hit.entry.id == "urn:mesh:content-insights:kpis:v1"
    assert hit.matches == ("column at_risk_subscribers of table daily",)


def test_descriptions_of_products_and_columns_count() -> None:
    hits = search(catalog(), "at_risk_subscribers churn")
    assert [h.entry.name for h in hits] == ["kpis"]
    assert "description of column at_risk_subscribers of table daily" in hits[0].matches


def test_an_exact_name_outranks_columns_and_prose() -> None:
    found = names("titles")
    assert found[0] == "content.titles" and len(found) > 1  # other products have title columns
    assert names("engagement.viewing")[0] == "engagement.viewing"
    assert names("customers")[0] == "subscriptions.customers"


def test_every_word_must_match() -> None:
    assert names("watch_seconds device") == ["engagement.viewing"]
    assert names("watch_seconds email") == []


def test_owners_and_tags_are_searched() -> None:
    (hit,) = search(catalog(), "personalisation")
    assert hit.entry.name == "next-title" and "owner" in hit.matches
    doc = _documents()["content.titles"]
    tagged = catalog(**{"content.titles": {"contract": doc["contract"] | {"tags": ["catalogue"]}}})
    (hit,) = search(tagged, "catalogue")
    assert hit.entry.name == "titles" and hit.matches[0] == "tag catalogue"


def test_filters_by_domain_and_type() -> None:
    assert names("customer", domain="subscriptions") == ["subscriptions.customers", "subscriptions.subscriptions"]
    assert names("customer", type="derived") == ["engagement.viewing"]
    assert names("", type="raw") == [
        "content.titles",
        "crm.contacts",
        "playback.events",
        "subscriptions.customers",
        "subscriptions.subscriptions",
    ]
    assert names("watch_seconds", domain="playback") == []


def test_personas_skills_and_objectives_are_searched() -> None:
    hits = search(catalog(), "churn analyst")
    named = [h for h in hits if "persona churn analyst" in h.matches]
    assert {h.entry.name for h in named} == {"customers", "subscriptions", "customer-360", "customer-profile"}
    assert hits[: len(named)] == named  # a persona's role outranks prose that mentions churn
    (hit,) = search(catalog(), "renew")
    assert hit.entry.name == "kpis" and "business objective" in hit.matches
    hits = search(catalog(), "notebooks")
    assert {h.entry.name for h in hits} == {"viewing", "next-title"}
    assert all(any(m.startswith("skill notebooks of persona") for m in h.matches) for h in hits)


def test_algorithm_filters_both_kinds_of_algorithm_product() -> None:
    assert names("", type="algorithm") == ["content-insights.kpis", "recommendations.next-title"]
    assert names("", type="ml-model") == ["recommendations.next-title"]
    assert names("", type="hybrid") == ["customers.customer-360"]
