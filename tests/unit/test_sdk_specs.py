"""Descriptor, contract and schema checks: good files load, bad ones say file, field and fix."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from open_data_contract_standard.model import DataQuality, SchemaObject, SchemaProperty

from mesh_sdk.observe.quality import compile_rules, record_rules, table_checks, violations
from mesh_sdk.spec.agreement import disagreements
from mesh_sdk.spec.contract import load_contract
from mesh_sdk.spec.descriptor import ProductType, load_descriptor
from mesh_sdk.spec.errors import SpecError
from mesh_sdk.spec.product import load_product

REPO = Path(__file__).resolve().parents[2]
PLAYBACK = REPO / "products" / "playback.events"
TITLES = REPO / "products" / "content.titles"
AVRO = REPO / "schemas" / "playback" / "PlaybackEvent.avsc"


def _write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def descriptor() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PLAYBACK / "dataproduct.yaml").read_text())
    return data


@pytest.fixture
def contract() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PLAYBACK / "contract.yaml").read_text())
    return data


def test_the_playback_product_loads_and_agrees_with_its_schema() -> None:
    product = load_product(PLAYBACK)
    assert product.id == "urn:mesh:playback:events:v1"
    assert product.descriptor.topic("stream") == "playback.events.stream.v1"
    assert product.descriptor.table("history") == "playback.events_history_v1"
    assert product.contract.primary_key("history") == ["event_id"]
    assert product.contract.pii_columns("history") == ["country"]


def test_every_type_of_the_framework_is_known_and_algorithm_names_two() -> None:
    assert {t.value for t in ProductType} == {"raw", "derived", "decision-support", "ml-model", "hybrid", "composite"}
    assert ProductType.filter("algorithm") == frozenset({"decision-support", "ml-model"})
    assert ProductType.filter("hybrid") == frozenset({"hybrid"}) and ProductType.filter(None) is None
    assert ProductType.ML_MODEL.family == "algorithm" and ProductType.HYBRID.family == "hybrid"
    with pytest.raises(ValueError, match=r"expected one of raw, derived.*algorithm"):
        ProductType.filter("spreadsheet")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d: d.pop("owner"), "owner", "add the field"),
        (lambda d: d.update(id="playback-events"), "id", "urn:mesh:<domain>:<product>:v<major>"),
        (lambda d: d.update(id="urn:mesh:content:events:v1"), "", "domain/product content/events"),
        (lambda d: d.update(colour="blue"), "colour", "remove it"),
        (lambda d: d["inputPorts"][0].update(kind="ftp"), "inputPorts[0]", "kafka, product or cdc"),
        (lambda d: d.update(type="spreadsheet"), "type", "allowed values"),
        (lambda d: d.update(businessObjective="more"), "businessObjective", "longer value"),
        (lambda d: d.update(personas=[{"role": "analyst"}]), "personas[0].needs", "add the field"),
        (lambda d: d["slos"].update(availability=2), "slos.availability", "correct the value"),
    ],
)
def test_a_bad_descriptor_names_file_field_and_fix(
    tmp_path: Path, descriptor: dict[str, Any], change: Any, field: str, words: str
) -> None:
    change(descriptor)
    path = _write(tmp_path, "dataproduct.yaml", descriptor)
    with pytest.raises(SpecError) as error:
        load_descriptor(path)
    message = str(error.value)
    assert str(path) in message
    assert f": {field}" in message or not field
    assert words in message


def test_a_contract_that_breaks_the_standard_is_refused(tmp_path: Path, contract: dict[str, Any]) -> None:
    del contract["apiVersion"]
    contract["schema"][0]["properties"][0]["required"] = "yes"
    path = _write(tmp_path, "contract.yaml", contract)
    with pytest.raises(SpecError) as error:
        load_contract(path)
    message = str(error.value)
    assert "'apiVersion' is a required property" in message
    assert "schema[0].properties[0].required" in message
    assert "Fix:" in message


def test_the_mesh_asks_for_described_columns(tmp_path: Path, contract: dict[str, Any]) -> None:
    del contract["schema"][0]["properties"][1]["description"]
    path = _write(tmp_path, "contract.yaml", contract)
    with pytest.raises(SpecError) as error:
        load_contract(path)
    assert "schema[0].properties[1].description: session_id has no description" in str(error.value)


def test_an_unknown_logical_type_lists_the_allowed_ones(tmp_path: Path, contract: dict[str, Any]) -> None:
    contract["schema"][0]["properties"][2]["logicalType"] = "money"
    path = _write(tmp_path, "contract.yaml", contract)
    with pytest.raises(SpecError) as error:
        load_contract(path)
    message = str(error.value)
    assert "schema[0].properties[2].logicalType" in message
    assert "'money' is not one of" in message and "use one of" in message


def test_invalid_yaml_is_reported_as_such(tmp_path: Path) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text("schema: [unclosed")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_contract(path)


def test_avro_and_contract_disagreements_are_each_named() -> None:
    contract = load_contract(PLAYBACK / "contract.yaml")
    props = contract.properties("history")
    avro = json.loads(AVRO.read_text())
    assert disagreements(avro, AVRO, props, contract.path) == []

    broken = copy.deepcopy(avro)
    broken["fields"] = [f for f in broken["fields"] if f["name"] != "device"]
    broken["fields"].append({"name": "colour", "type": "string"})
    for f in broken["fields"]:
        if f["name"] == "title_id":
            f["type"] = "string"
        if f["name"] == "country":
            f["type"] = ["null", "string"]
    problems = [str(p) for p in disagreements(broken, AVRO, props, contract.path)]
    joined = "\n".join(problems)
    assert "Avro field colour is not in the contract" in joined
    assert "contract property device is not in the Avro schema" in joined
    assert "title_id is integer in the contract but Avro 'string'" in joined
    assert "country is required in the contract but nullable in Avro" in joined


def test_a_product_folder_reports_every_problem_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "broken.product"
    shutil.copytree(PLAYBACK, folder, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    contract = yaml.safe_load((folder / "contract.yaml").read_text())
    contract["id"] = "urn:mesh:playback:other:v1"
    contract["schema"][0]["properties"] = [p for p in contract["schema"][0]["properties"] if p["name"] != "device"]
    (folder / "contract.yaml").write_text(yaml.safe_dump(contract))
    with pytest.raises(SpecError) as error:
        load_product(folder)
    assert len(error.value.problems) == 2


def test_record_rules_come_from_the_contract() -> None:
    props = load_contract(PLAYBACK / "contract.yaml").properties("history")
    rules = record_rules(props)
    good: dict[str, object] = {str(p.name): "x" for p in props}
    good |= {"event_type": "PLAY", "position_ms": 10, "country": "NL"}
    assert violations(rules, good) == []
    bad = good | {"event_type": "REWIND", "position_ms": -1, "country": "nl", "session_id": None}
    found = violations(rules, bad)
    assert any("event_type='REWIND'" in v for v in found)
    assert any("position_ms=-1" in v and "at least 0" in v for v in found)
    assert any("country='nl'" in v for v in found)
    assert "session_id is missing but required" in found


def test_table_checks_run_as_sql() -> None:
    obj = load_contract(PLAYBACK / "contract.yaml").object("history")
    checks = {c.name: c for c in table_checks(obj)}
    duck = duckdb.connect()
    duck.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES ('a', 'PLAY', 5, 'NL'), ('a', 'JUMP', -3, 'nl')) "
        "v(event_id, event_type, position_ms, country)"
    )

    def run(name: str) -> bool:
        value = duck.execute(checks[name].sql.replace("{table}", "t")).fetchone()
        assert value is not None
        return checks[name].passes(float(value[0]))

    assert set(checks) == {
        "duplicateValues",
        "rowCount",
        "event_type.invalidValues",
        "position_ms.withinRange",
        "country.invalidValues",
    }
    assert run("rowCount")
    assert not run("duplicateValues")
    assert not run("event_type.invalidValues")
    assert not run("position_ms.withinRange")
    assert not run("country.invalidValues")


def test_a_record_outside_a_declared_range_is_refused_with_the_rule_it_breaks() -> None:
    props = load_contract(TITLES / "contract.yaml").properties("changes")
    check = compile_rules(record_rules(props))
    found = check({"release_year": 1700, "duration_s": 21601})
    assert "release_year=1700 breaks the rule: release_year within its declared range (at least 1888)" in found
    assert "duration_s=21601 breaks the rule: duration_s within its declared range (at most 21600)" in found
    assert not [v for v in check({"release_year": 1888, "duration_s": 21600}) if "declared range" in v]


def _ranged_columns() -> Iterator[Any]:
    for path in sorted(REPO.glob("products/*/contract.yaml")):
        for obj in load_contract(path).model.schema_ or []:
            for prop in obj.properties or []:
                if any(q.name == "withinRange" for q in prop.quality or []):
                    yield pytest.param(obj, prop, id=f"{path.parent.name}.{obj.name}.{prop.name}")


@pytest.mark.parametrize(("obj", "prop"), list(_ranged_columns()))
def test_a_range_rule_on_the_table_agrees_with_the_range_records_are_held_to(
    obj: SchemaObject, prop: SchemaProperty
) -> None:
    """The table check (an SQL rule, which the standard's tools can run) and the record rules (from the
    range in logicalTypeOptions) state one range twice: they must say the same."""
    assert prop.name
    options = prop.logicalTypeOptions or {}
    low, high = options["minimum"], options["maximum"]
    check = next(c for c in table_checks(obj) if c.name == f"{prop.name}.withinRange")
    rules = compile_rules([r for r in record_rules([prop]) if not r.required])
    duck = duckdb.connect()
    for value, inside in ((low, True), (high, True), (low - 1, False), (high + 1, False)):
        duck.execute(f'CREATE OR REPLACE TABLE t AS SELECT {value} AS "{prop.name}"')
        counted = duck.execute(check.sql.replace("{table}", "t")).fetchone()
        assert counted is not None
        assert check.passes(float(counted[0])) is inside, (value, check.sql)
        assert (rules({prop.name: value}) == []) is inside, value


def test_exclusive_bounds_and_the_older_range_spelling_are_still_understood() -> None:
    share = SchemaProperty(
        name="share", logicalType="number", logicalTypeOptions={"exclusiveMinimum": 0, "exclusiveMaximum": 1}
    )
    older = SchemaProperty(
        name="year",
        logicalType="integer",
        quality=[
            DataQuality.model_validate(
                {"metric": "invalidValues", "description": "Sane", "arguments": {"minimum": 1888}, "mustBe": 0}
            )
        ],
    )
    rules = record_rules([share, older])
    assert violations(rules, {"share": 0.5, "year": 1888}) == []
    assert violations(rules, {"share": 0, "year": 1887}) == [
        "share=0 breaks the rule: share within its declared range (more than 0)",
        "year=1887 breaks the rule: Sane (at least 1888)",
    ]
    assert violations(rules, {"share": 1, "year": 2000}) == [
        "share=1 breaks the rule: share within its declared range (less than 1)"
    ]
    (older_check,) = table_checks(SchemaObject(name="t", properties=[share, older]))
    assert older_check.sql == 'SELECT count(*) FROM {table} WHERE "year" < 1888'
