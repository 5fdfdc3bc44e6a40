"""The mesh's policies on the seven real products (as each serves its discovery document, its ports
named by the SDK's own runtime code) and on broken copies: each violation names the policy, the
product, the field and the fix."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mesh_catalog import CatalogEntry, parse_entry
from mesh_config import load_settings
from mesh_governance import RULES, Finding, PolicySet, Rule, Severity, evaluate, load_policies, refusals
from mesh_sdk.runtime.derived import DerivedRuntime
from mesh_sdk.runtime.options import RuntimeOptions
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sdk.serve.masked_stream import masked_topic
from mesh_sdk.serve.served import declared_query_ports
from mesh_sdk.spec.product import dump, load_product
from mesh_testing.products import product_folders

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = ROOT / "products"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PLAYBACK = "urn:mesh:playback:events:v1"


@cache
def policies() -> PolicySet:
    return load_policies(ROOT / "governance" / "policies.yaml")


def _ports(folder: Path) -> dict[str, str]:
    """The `ports` a running product serves, computed by its runtime's own `port_urls` on a stand-in
    for the runtime (no servers): the topic and table names are the SDK's, not this test's."""
    product = load_product(folder)
    d = product.descriptor
    runtime: Any = SimpleNamespace(
        settings=load_settings(), options=RuntimeOptions(), product=product, query_ports=declared_query_ports(d)
    )
    if product.derived:
        runtime.outputs = dict.fromkeys(product.output_tables())
        runtime.main_port = runtime.anchor = product.output_tables()[0]
        runtime.streams = {
            p.source: (d.topic(p.name), None) for p in d.output_ports if p.kind == "kafka" and p.source is not None
        }
        runtime.engine_urls = lambda: DerivedRuntime.engine_urls(runtime)
        return DerivedRuntime.port_urls(runtime)
    runtime.main_port = product.served_port
    runtime.engine_urls = lambda: SourceAlignedRuntime.engine_urls(runtime)
    runtime.stream_topic, runtime.deadletter_topic = d.topic("stream"), d.topic("dlq")
    pii = any(p.classification == "pii" for p in product.contract.properties(product.history_port))
    runtime.masked = SimpleNamespace(target=masked_topic(runtime.stream_topic)) if pii else None
    runtime.masked_tables = []
    return SourceAlignedRuntime.port_urls(runtime)


@cache
def _documents() -> dict[str, dict[str, Any]]:
    docs = {}
    for folder in product_folders(PRODUCTS):
        docs[folder.name] = dump(load_product(folder)) | {"ports": _ports(folder)}
    return docs


def document(name: str) -> dict[str, Any]:
    return copy.deepcopy(_documents()[name])


def entry(doc: dict[str, Any]) -> CatalogEntry:
    return parse_entry(doc, "http://product", NOW)


def found(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(v.policy, v.field) for v in evaluate(policies(), entry(doc))}


def test_every_real_product_passes_every_refusing_policy() -> None:
    assert len(_documents()) == len(product_folders(PRODUCTS))
    for name in _documents():
        violations = evaluate(policies(), entry(document(name)))
        assert refusals(violations) == [], f"{name}: {[str(v) for v in violations]}"


def test_the_real_products_warnings_are_the_known_ones() -> None:
    warnings = {
        (v.product, v.policy, v.field) for name in _documents() for v in evaluate(policies(), entry(document(name)))
    }
    # next-title's contract promises a training frequency but no latency for its 900 s freshness SLO.
    assert warnings == {("urn:mesh:recommendations:next-title:v1", "GOV-007", "contract.slaProperties")}


def test_the_ports_a_product_serves_are_checked_against_its_names() -> None:
    doc = document("playback.events")
    assert doc["ports"]["stream"].endswith("/playback.events.stream.v1")
    assert doc["ports"]["iceberg"].startswith("playback.events_history_v1 ")
    doc["ports"]["stream"] = "kafka://127.0.0.1:19092/playback-events"
    doc["ports"]["iceberg"] = "playback.history in catalog mesh"
    assert found(doc) == {("GOV-006", "ports.stream"), ("GOV-006", "ports.iceberg")}

    viewing = document("engagement.viewing")
    assert viewing["ports"]["iceberg_sessions"].startswith("engagement.viewing_sessions_v1 ")
    viewing["ports"]["iceberg_sessions"] = "engagement.viewing_daily_v1 in catalog mesh"
    viewing["ports"]["stream_daily"] = "kafka://127.0.0.1:19092/engagement.viewing.stream.v2"
    assert found(viewing) == {("GOV-006", "ports.iceberg_sessions"), ("GOV-006", "ports.stream_daily")}


def broken_playback() -> dict[str, Any]:
    """playback.events with no owner, its PII column unclassified, a bad id and no freshness SLO."""
    doc = document("playback.events")
    del doc["descriptor"]["owner"]
    del doc["contract"]["schema"][0]["properties"][8]["classification"]  # country, the PII column
    doc["descriptor"]["id"] = "urn:mesh:playback:events"
    doc["contract"]["id"] = "urn:mesh:playback:events"
    del doc["descriptor"]["slos"]["freshness_seconds"]
    return doc


def test_a_broken_descriptor_yields_the_precise_violations() -> None:
    violations = evaluate(policies(), entry(broken_playback()))
    assert [(v.policy, v.severity, v.product, v.field) for v in violations] == [
        ("GOV-001", Severity.REFUSE, "urn:mesh:playback:events", "descriptor.owner"),
        ("GOV-002", Severity.REFUSE, "urn:mesh:playback:events", "contract.schema[0].properties[8].classification"),
        ("GOV-005", Severity.REFUSE, "urn:mesh:playback:events", "descriptor.slos.freshness_seconds"),
        ("GOV-006", Severity.REFUSE, "urn:mesh:playback:events", "descriptor.id"),
    ]
    by_policy = {v.policy: v for v in violations}
    assert "column country of history is not classified" in by_policy["GOV-002"].problem
    assert by_policy["GOV-002"].fix.startswith("classify history.country in contract.yaml: `pii` if it is personal")
    assert (
        by_policy["GOV-006"].problem == "is 'urn:mesh:playback:events', expected urn:mesh:<domain>:<product>:v<major>"
    )
    assert "id: urn:mesh:playback:events:v1" in by_policy["GOV-006"].fix
    assert by_policy["GOV-001"].fix == policies().get("GOV-001").fix  # the policy's own hint
    assert by_policy["GOV-005"].title == "A freshness SLO is declared"


def test_fixing_the_descriptor_clears_the_violations() -> None:
    doc = broken_playback()
    fixed = document("playback.events")
    doc["descriptor"]["owner"] = fixed["descriptor"]["owner"]
    doc["contract"]["schema"][0]["properties"][8]["classification"] = "pii"
    doc["descriptor"]["id"] = doc["contract"]["id"] = PLAYBACK
    doc["descriptor"]["slos"]["freshness_seconds"] = 60
    assert evaluate(policies(), entry(doc)) == ()


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = (int(p) if p.isdigit() else p for p in path.split("."))
    target: Any = doc
    for part in parents:
        target = target[part]
    if value is None:
        del target[last]
    else:
        target[last] = value


@pytest.mark.parametrize(
    ("product", "path", "value", "policy", "field", "words"),
    [
        ("playback.events", "descriptor.owner.contact", None, "GOV-001", "descriptor.owner.contact", "cannot reach"),
        ("playback.events", "contract", None, "GOV-001", "contract", "serves no data contract"),
        ("playback.events", "contract.id", "urn:mesh:x:y:v1", "GOV-001", "contract.id", "not this product's"),
        ("playback.events", "contract.schema.0.properties.3.classification", "secret", "GOV-002",
         "contract.schema[0].properties[3].classification", "is 'secret' on history.title_id"),
        ("subscriptions.customers", "contract.schema.0.properties.1.primaryKey", True, "GOV-003",
         "contract.schema[0].properties[1].primaryKey", "cannot be masked"),
        ("content.titles", "contract.version", "2.0.0", "GOV-004", "contract.version", "major 2"),
        ("content.titles", "contract.customProperties.0",
         {"property": "schemaCompatibility", "value": "NONE"}, "GOV-004",
         "contract.customProperties[0].value", "asks the schema registry for 'NONE'"),
        ("content.titles", "descriptor.compatibility", "FORWARD", "GOV-004", "descriptor.compatibility",
         "BACKWARD or stricter"),
        ("content.titles", "descriptor.slos.freshness_seconds", 0, "GOV-005",
         "descriptor.slos.freshness_seconds", "greater than 0"),
        ("content.titles", "descriptor.id", "urn:mesh:content:catalogue:v1", "GOV-006", "descriptor.id",
         "descriptor.domain/name say content/titles"),
        ("content.titles", "contract.schema.1.physicalName", "title_changes", "GOV-006",
         "contract.schema[1].physicalName", "expected 'titles_changes_v1'"),
        ("content.titles", "descriptor.inputPorts.0.topic", "content-outbox", "GOV-006",
         "descriptor.inputPorts[0].topic", "cdc.<database>.<schema>.<table>"),
        ("playback.events", "descriptor.inputPorts.0.topic", "telemetry", "GOV-006",
         "descriptor.inputPorts[0].topic", "<domain>.<product>.<port>.v<major>"),
        ("engagement.viewing", "contract.slaProperties.0.value", 2, "GOV-007",
         "contract.slaProperties[0].value", "promises 2 s (2 s) but descriptor.slos.freshness_seconds is 60"),
        ("subscriptions.customers", "contract.customProperties", None, "GOV-008",
         "contract.customProperties", "customers.email, customers.full_name"),
        ("engagement.viewing", "descriptor.businessObjective", None, "GOV-014",
         "descriptor.businessObjective", "nobody can tell what the product is for"),
        ("engagement.viewing", "descriptor.personas", None, "GOV-014", "descriptor.personas", "names no consumer"),
        ("engagement.viewing", "descriptor.personas.1.skills", [], "GOV-014", "descriptor.personas[1].skills",
         "'engagement analyst'"),
    ],
)  # fmt: skip
def test_each_policy_names_the_field_and_the_fix(
    product: str, path: str, value: Any, policy: str, field: str, words: str
) -> None:
    doc = document(product)
    _set(doc, path, value)
    violations = [v for v in evaluate(policies(), entry(doc)) if v.policy == policy]
    assert [v.field for v in violations] == [field], [str(v) for v in violations]
    (violation,) = violations
    assert words in violation.problem and violation.fix
    assert violation.product == doc["descriptor"]["id"]


def test_a_latency_in_minutes_agrees_with_the_same_slo_in_seconds() -> None:
    doc = document("engagement.viewing")
    sla = doc["contract"]["slaProperties"][0]
    assert sla["property"] == "latency"
    sla["value"], sla["unit"] = 1, "min"
    assert found(doc) == set()
    sla["unit"] = "fortnight"
    assert found(doc) == {("GOV-007", "contract.slaProperties[0].unit")}


def test_a_stricter_compatibility_is_accepted() -> None:
    doc = document("content.titles")
    doc["contract"]["customProperties"].append({"property": "compatibility", "value": "full_transitive"})
    assert found(doc) == set()


def test_a_unit_that_is_not_text_is_reported_not_fatal() -> None:
    doc = document("playback.events")
    doc["contract"]["slaProperties"][0]["unit"] = ["s"]
    assert found(doc) == {("GOV-007", "contract.slaProperties[0].unit")}


def test_a_rule_that_fails_on_a_document_is_a_violation_of_its_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    def crashes(_entry: CatalogEntry, _params: Any) -> Iterator[Finding]:
        raise KeyError("surprise")

    monkeypatch.setitem(RULES, "freshness_slo", Rule(crashes))
    (violation,) = evaluate(policies(), entry(document("playback.events")))
    assert (violation.policy, violation.severity, violation.field) == ("GOV-005", Severity.REFUSE, "<document>")
    assert violation.problem == "could not be checked: KeyError: 'surprise'"
    assert str(violation).startswith(f"GOV-005 (refuse) {PLAYBACK}: <document> could not be checked")


def test_a_product_that_reports_no_access_control_or_leaves_pii_unmasked_is_warned() -> None:
    from mesh_governance.rules import access_enforced

    customers = document("subscriptions.customers")
    assert list(access_enforced(entry(customers), {})) == []
    open_door = {k: v for k, v in customers.items() if k != "access"}
    assert [f.field for f in access_enforced(entry(open_door), {})] == ["access"]
    leaky = customers | {"access": {"pii_columns": ["email"]}}
    assert {f.field for f in access_enforced(entry(leaky), {})} == {"access.pii_columns"}


def test_a_policy_of_required_fields_needs_no_code() -> None:
    rule = RULES["fields_present"]
    params = {"fields": ["descriptor.tags", "descriptor.owner.team", "contract.description.purpose"]}
    doc = document("playback.events")
    problems = {(f.field, f.problem) for f in rule.check(entry(doc), params)}
    assert problems == {("descriptor.tags", "is missing or empty")}
    doc["descriptor"]["tags"] = ["telemetry"]
    assert list(rule.check(entry(doc), params)) == []
    doc["descriptor"]["tags"] = []
    assert [f.field for f in rule.check(entry(doc), params)] == ["descriptor.tags"]


def test_a_table_read_by_name_instead_of_through_an_input_port_is_named_with_its_owner() -> None:
    rule = RULES["inputs_declared"]
    doc = document("content-insights.kpis")
    assert list(rule.check(entry(doc), {})) == []
    doc["undeclared_reads"] = [
        {"table": "playback.events_history_v1", "port": "urn:mesh:playback:events:v1/history"},
        {"table": "scratch.notes_v1", "port": None},
    ]
    found = list(rule.check(entry(doc), {}))
    assert [f.field for f in found] == ["undeclared_reads[0]", "undeclared_reads[1]"]
    assert "playback.events_history_v1" in found[0].problem and "urn:mesh:playback:events:v1" in found[0].problem
    assert found[0].fix is not None and "product: urn:mesh:playback:events:v1, port: history" in found[0].fix
    assert found[1].fix is not None and "owns the table" in found[1].fix
