"""The example queries of recommendations.next-title (queries/) run on the product's ports and give the
answers its tables, its model card and its inputs imply: a customer's list, the models against the
baseline, and how widely the recommendations spread over the catalogue."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mesh_sdk.runtime.derived import DerivedRuntime
from mesh_testing.mesh import RunningMesh
from mesh_testing.products import (
    example_query,
    example_rows,
    graphql,
    http_client,
    sql_rows,
    table_rows,
)

pytestmark = pytest.mark.integration
RECOMMENDATIONS = "recommendations.next_title_recommendations_v1"
MODELS = "recommendations.next_title_models_v1"
CUSTOMER = 106  # the customer the per-customer examples name


@pytest.fixture(scope="module")
def recommender(running_mesh: RunningMesh) -> DerivedRuntime:
    running_mesh.caught_up()
    runtime: DerivedRuntime = running_mesh["recommendations.next-title"]
    runtime.refresh_now()  # trains a model on the sessions as they are now
    return runtime


@pytest.fixture(scope="module")
def served(recommender: DerivedRuntime) -> list[dict[str, Any]]:
    """The recommendations table's rows, as SQL sees them."""
    return sql_rows(recommender, f"SELECT * FROM {RECOMMENDATIONS}")


@pytest.fixture(scope="module")
def in_service(recommender: DerivedRuntime) -> dict[str, Any]:
    """The models row of the model whose recommendations are served: the newest put in service."""
    models = sql_rows(recommender, f"SELECT * FROM {MODELS}")
    return max((m for m in models if m["in_service"]), key=lambda m: m["version"])


@pytest.fixture(scope="module")
def client(recommender: DerivedRuntime) -> Iterator[httpx.Client]:
    with http_client(recommender) as http:
        yield http


def test_a_customers_top_10_is_their_served_list_with_the_catalogues_names(
    recommender: DerivedRuntime, served: list[dict[str, Any]], in_service: dict[str, Any]
) -> None:
    rows = example_rows(recommender, "customer_top_10")
    mine = sorted((r for r in served if r["customer_id"] == CUSTOMER), key=lambda r: r["rank"])
    assert [r["rank"] for r in rows] == list(range(1, 11))
    assert [r["title_id"] for r in rows] == [r["title_id"] for r in mine]
    assert {r["model_version"] for r in rows} == {in_service["version"]}
    titles = {
        t["title_id"]: t
        for t in table_rows(recommender.settings, "content.titles_titles_v1", in_service["titles_snapshot"])
    }
    assert [r["title_name"] for r in rows] == [titles[r["title_id"]]["name"] for r in rows]
    assert [r["primary_genre"] for r in rows] == [titles[r["title_id"]]["primary_genre"] for r in rows]
    sessions = table_rows(recommender.settings, "engagement.viewing_sessions_v1", in_service["sessions_snapshot"])
    watched = {s["title_id"] for s in sessions if s["customer_id"] == CUSTOMER and s["watch_seconds"] > 0}
    assert watched and not watched & {r["title_id"] for r in rows}, "titles already watched are not recommended"


def test_model_versions_report_each_model_against_the_baseline(
    recommender: DerivedRuntime, client: httpx.Client, in_service: dict[str, Any]
) -> None:
    rows = example_rows(recommender, "model_versions_vs_baseline")
    models = sql_rows(recommender, f"SELECT version FROM {MODELS}")
    assert [r["version"] for r in rows] == sorted((m["version"] for m in models), reverse=True)
    assert [r["version"] for r in rows if r["serving_now"]] == [in_service["version"]]
    card = client.get("/").json()["derivation"]["model_card"]
    assert card["version"] == in_service["version"]
    now = next(r for r in rows if r["serving_now"])
    assert now["training_rows"] == card["training_data"]["sessions"]["rows"]
    assert now["sessions_snapshot"] == card["training_data"]["sessions"]["snapshot_id"]
    assert now["quality_gate_passed"] == card["quality_gate"]["passed"]
    evaluation = card["evaluation"]
    if evaluation is None:  # the holdout needs customers seen before and after its cut
        assert now["precision_at_10"] is None and now["quality_gate"].startswith("not evaluated")
    else:
        assert now["precision_at_10"] == pytest.approx(evaluation["model_precision"], abs=6e-5)
        assert now["baseline_precision_at_10"] == pytest.approx(evaluation["baseline_precision"], abs=6e-5)
        assert now["recall_at_10"] == pytest.approx(evaluation["model_recall"], abs=6e-5)
        assert now["test_customers"] == evaluation["test_customers"]
    for r in rows:  # the gate's verdict: a lift of at least 1 and recall no worse than the baseline
        if r["precision_at_10"] is not None and r["quality_gate_passed"]:
            assert r["precision_at_10"] >= r["baseline_precision_at_10"]
            assert r["recall_at_10"] >= r["baseline_recall_at_10"]


def test_title_coverage_counts_every_recommendation(served: list[dict[str, Any]], recommender: DerivedRuntime) -> None:
    rows = example_rows(recommender, "title_coverage")
    customers = {r["customer_id"] for r in served}
    per_title: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in served:
        per_title[r["title_id"]].append(r)
    assert {r["title_id"]: r["customers"] for r in rows} == {t: len(v) for t, v in per_title.items()}
    assert sum(r["customers"] for r in rows) == len(served), "a title is in a customer's list at most once"
    assert sum(r["at_rank_1"] for r in rows) == len(customers)
    for r in rows:
        assert r["share_of_customers"] == pytest.approx(r["customers"] / len(customers), abs=6e-4)
        ranks = [x["rank"] for x in per_title[r["title_id"]]]
        assert r["avg_rank"] == pytest.approx(sum(ranks) / len(ranks), abs=0.051)
    counts = [r["customers"] for r in rows]
    assert counts == sorted(counts, reverse=True)


def test_catalogue_coverage_sums_up_the_table(
    recommender: DerivedRuntime, served: list[dict[str, Any]], in_service: dict[str, Any]
) -> None:
    [row] = example_rows(recommender, "catalogue_coverage")
    assert row["recommendations"] == len(served)
    assert row["customers"] == len({r["customer_id"] for r in served})
    assert row["titles"] == len({r["title_id"] for r in served})
    assert row["model_version"] == in_service["version"]
    top_ten = sum(n for _, n in Counter(r["title_id"] for r in served).most_common(10))
    assert row["top_ten_share"] == pytest.approx(top_ten / len(served), abs=6e-4)
    sessions = table_rows(recommender.settings, "engagement.viewing_sessions_v1", in_service["sessions_snapshot"])
    assert row["customers"] == len({s["customer_id"] for s in sessions if s["watch_seconds"] > 0})


def test_customer_recommendations_over_graphql_equal_the_sql_answer(
    recommender: DerivedRuntime, client: httpx.Client
) -> None:
    page = graphql(client, example_query(recommender, "customer_recommendations").text)["recommendations"]
    rows = example_rows(recommender, "customer_top_10")
    assert [(i["rank"], i["titleId"], i["titleName"]) for i in page["items"]] == [
        (r["rank"], r["title_id"], r["title_name"]) for r in rows
    ]


def test_first_picks_page_through_one_title_per_customer(
    recommender: DerivedRuntime, client: httpx.Client, served: list[dict[str, Any]]
) -> None:
    text = example_query(recommender, "first_picks").text
    seen: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = graphql(client, text, after=after)["recommendations"]
        seen += page["items"]
        after = page["nextCursor"]
        if after is None:
            break
    first = {r["customer_id"]: r["title_id"] for r in served if r["rank"] == 1}
    assert {i["customerId"]: i["titleId"] for i in seen} == first and len(seen) == len(first)
    scores = [i["score"] for i in seen]
    assert scores == sorted(scores, reverse=True)
    assert len(seen) > 50, "more than one page"
