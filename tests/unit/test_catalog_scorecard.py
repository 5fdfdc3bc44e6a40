"""Scorecards from the seven real products' documents (built without servers), hand-written observation
reports in the shape `Observer.report()` serves, and the governance policies of the repository."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mesh_catalog import Availability, CatalogEntry, Status, parse_entry
from mesh_catalog.scorecard import Freshness, scorecard, worst_first
from mesh_governance import PolicySet, evaluate, load_policies
from mesh_sdk.spec.product import dump, load_product
from mesh_testing.products import product_folders

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = ROOT / "products"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PLAYBACK = "urn:mesh:playback:events:v1"


@cache
def policies() -> PolicySet:
    return load_policies(ROOT / "governance" / "policies.yaml")


@cache
def _documents() -> dict[str, dict[str, Any]]:
    docs = {}
    for folder in product_folders(PRODUCTS):
        docs[folder.name] = dump(load_product(folder)) | {"ports": {}}
    return docs


def document(name: str) -> dict[str, Any]:
    return copy.deepcopy(_documents()[name])


def entry(name: str, doc: dict[str, Any] | None = None) -> CatalogEntry:
    return parse_entry(doc if doc is not None else document(name), f"http://{name}", NOW)


def report(freshness: float | None = 12.5, failed: tuple[str, ...] = (), checks: int = 4) -> dict[str, Any]:
    """An observation report as `Observer.report()` makes it (the parts a scorecard reads, and some others)."""
    names = [f"check_{i}" for i in range(checks - len(failed))] + list(failed)
    return {
        "product": PLAYBACK,
        "observed_at": "2025-03-01T11:59:58+00:00",
        "freshness_seconds": freshness,
        "volumes": {"consumed": 120, "written": 118, "duplicates": 2},
        "dead_letters": {"malformed": 0, "schema": 0, "rule": 1},
        "consumer_lag": {"playback.telemetry.raw.v1[0]": 0},
        "snapshots": [],
        "snapshot_count": 3,
        "total_rows": 118,
        "quality": [
            {"check": n, "description": f"{n} holds", "value": 0 if n not in failed else 3, "passed": n not in failed}
            for n in names
        ],
        "slos": {
            "freshness": {"objective_seconds": 60.0, "actual_seconds": freshness, "met": bool(freshness)},
            "availability": {"objective": 0.99},
        },
        "cache": {"hits": 0, "misses": 0},
    }


def card_of(name: str, observations: dict[str, Any] | None, doc: dict[str, Any] | None = None) -> Any:
    e = entry(name, doc)
    return scorecard(e, observations, evaluate(policies(), e))


def test_every_real_contract_is_complete() -> None:
    for name in _documents():
        completeness = card_of(name, None).completeness
        assert completeness.columns > 0 and completeness.described == completeness.classified == completeness.columns
        assert completeness.quality_rules > 0 and completeness.freshness_slo, name
        assert completeness.score == 1.0


def test_a_healthy_product_scores_100_and_an_a() -> None:
    card = card_of("playback.events", report(freshness=12.5))
    assert card.quality.pass_rate == 1.0 and card.quality.checks == 4 and card.quality.failed == ()
    assert card.freshness.verdict is Freshness.MET
    assert (card.freshness.observed_seconds, card.freshness.objective_seconds) == (12.5, 60.0)
    assert card.compliance.compliant and card.available
    assert (card.score, card.grade) == (100.0, "A")
    assert card.observed_at == "2025-03-01T11:59:58+00:00"


def test_failed_checks_and_missed_freshness_lower_the_score_by_their_weights() -> None:
    card = card_of("playback.events", report(freshness=75.0, failed=("no_duplicates",)))
    assert card.quality.pass_rate == 0.75 and card.quality.failed == ("no_duplicates",)
    assert card.freshness.verdict is Freshness.MISSED and card.freshness.observed_seconds == 75.0
    # 20 (complete) + 25 * 0.75 + 0 (missed) + 20 (compliant) + 10 (available)
    assert (card.score, card.grade) == (68.8, "C")


def test_without_observations_quality_and_freshness_are_unknown_and_earn_nothing() -> None:
    card = card_of("playback.events", None)
    assert card.quality.pass_rate is None and card.quality.checks is None
    assert card.freshness.verdict is Freshness.UNKNOWN and card.freshness.objective_seconds == 60.0
    assert card.freshness.observed_seconds is None and card.observed_at is None
    assert (card.score, card.grade) == (50.0, "C")
    # A product with no data yet reports no freshness: unknown, not met.
    assert card_of("playback.events", report(freshness=None)).freshness.verdict is Freshness.UNKNOWN
    # A report listing no checks has no pass rate.
    assert card_of("playback.events", report(checks=0)).quality.pass_rate is None


@pytest.mark.parametrize(
    "broken",
    [
        [],
        "down",
        {"quality": "all good", "freshness_seconds": "fresh"},
        {"quality": [1, None], "freshness_seconds": True},
    ],
)
def test_a_report_in_another_shape_counts_as_unknown_not_an_error(broken: Any) -> None:
    card = card_of("playback.events", broken)
    assert card.quality.pass_rate is None and card.freshness.verdict is Freshness.UNKNOWN


def test_a_check_without_a_true_passed_counts_as_failed() -> None:
    observations = report(checks=2)
    del observations["quality"][0]["passed"]
    card = card_of("playback.events", observations)
    assert card.quality.pass_rate == 0.5 and card.quality.failed == ("check_0",)


def test_warnings_halve_the_compliance_part_and_a_refusal_zeroes_it() -> None:
    warned = card_of("recommendations.next-title", report())
    assert (warned.compliance.refusing, warned.compliance.warnings) == (0, 1)
    assert warned.compliance.compliant and warned.compliance.policies == ("GOV-007",)
    assert (warned.score, warned.grade) == (90.0, "A")

    doc = document("playback.events")
    del doc["descriptor"]["owner"]
    del doc["descriptor"]["slos"]["freshness_seconds"]
    refused = card_of("playback.events", report(), doc)
    assert refused.compliance.refusing == 2 and not refused.compliance.compliant
    assert refused.compliance.policies == ("GOV-001", "GOV-005")
    # No freshness SLO: completeness loses a quarter, and freshness is unknown.
    assert refused.completeness.score == 0.75 and refused.freshness.verdict is Freshness.UNKNOWN
    # 20 * 0.75 + 25 (quality) + 0 + 0 + 10
    assert (refused.score, refused.grade) == (50.0, "C")


def test_completeness_counts_described_and_classified_columns_and_declared_rules() -> None:
    doc = document("playback.events")
    table = doc["contract"]["schema"][0]
    table.pop("quality", None)
    for prop in table["properties"]:
        prop.pop("quality", None)
    table["properties"][0]["description"] = " "
    del table["properties"][1]["description"]
    del table["properties"][2]["classification"]
    completeness = scorecard(entry("playback.events", doc), None, ()).completeness
    assert (completeness.columns, completeness.described, completeness.classified) == (11, 9, 10)
    assert completeness.quality_rules == 0 and completeness.freshness_slo
    assert completeness.score == pytest.approx((9 / 11 + 10 / 11 + 0 + 1) / 4)


def test_an_unavailable_product_loses_the_availability_part() -> None:
    e = entry("playback.events")
    gone = replace(e, availability=Availability(Status.UNAVAILABLE, NOW, "does not answer", NOW))
    card = scorecard(gone, None, ())
    assert not card.available and card.score == 40.0 and card.grade == "D"


def test_scorecards_sort_worst_first_and_serialise_their_figures() -> None:
    good = card_of("playback.events", report())
    fair = card_of("content.titles", report(failed=("a", "b")))
    unknown = card_of("engagement.viewing", None)
    assert [c.product for c in worst_first([good, fair, unknown])] == [
        unknown.product,
        fair.product,
        good.product,
    ]
    body = fair.as_dict()
    assert body["grade"] == "B" and body["score"] == 87.5
    assert body["quality"] == {"checks": 4, "passed": 2, "failed": ["a", "b"], "pass_rate": 0.5}
    assert body["freshness"] == {"verdict": "met", "observed_seconds": 12.5, "objective_seconds": 60.0}
    assert body["freshness"]["verdict"] == "met" and body["compliance"]["compliant"] is True
    assert sum(body["weights"].values()) == 100
    assert body["parts"] == {
        "completeness": 1.0,
        "quality": 0.5,
        "freshness": 1.0,
        "compliance": 1.0,
        "availability": 1.0,
    }
