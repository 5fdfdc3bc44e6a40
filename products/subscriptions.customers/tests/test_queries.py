"""The example queries of subscriptions.customers (queries/) run against the running product and give
the answers the legacy database implies: SQL over the current state and the change history, GraphQL
over the current state."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sources.legacy import ChangeCounts, LegacyWorkload
from mesh_testing.products import (
    consumer_key,
    eventually,
    example_query,
    example_rows,
    graphql,
    http_client,
    sql_rows,
    state_matches,
)

from .conftest import COLUMNS, database_customers

pytestmark = pytest.mark.integration
STATE = "subscriptions.customers_customers_v1"
CHANGES = "subscriptions.customers_changes_v1"


@pytest.fixture(scope="module")
def workload(customers_product: SourceAlignedRuntime) -> ChangeCounts:
    """Some sign-ups, profile edits and erasures on top of the seed, captured and queryable over SQL."""
    settings = customers_product.settings
    with LegacyWorkload.connect(settings.postgres_dsn(settings.legacy_db), seed=23) as legacy:
        for _ in range(250):
            legacy.step()
        counts = legacy.counts
    expected = database_customers(settings)
    eventually(lambda: state_matches(customers_product, expected, COLUMNS), attempts=300)
    # The SQL port refreshes its views shortly after each commit.
    eventually(lambda: sql_rows(customers_product, f"SELECT count(*) AS n FROM {STATE}")[0]["n"] == len(expected))
    return counts


@pytest.fixture(scope="module")
def client(customers_product: SourceAlignedRuntime) -> Iterator[httpx.Client]:
    with http_client(customers_product, 30) as http:
        yield http


def test_signups_and_erasures_per_day_count_every_captured_change(
    customers_product: SourceAlignedRuntime, workload: ChangeCounts
) -> None:
    days = example_rows(customers_product, "signups_and_erasures_per_day")
    totals = {column: sum(d[column] for d in days) for column in ("sign_ups", "profile_changes", "erasures")}
    captured = sql_rows(customers_product, f"SELECT op, count(*) AS n FROM {CHANGES} GROUP BY op")
    by_op = Counter({r["op"]: r["n"] for r in captured})
    assert totals == {"sign_ups": by_op["c"], "profile_changes": by_op["u"], "erasures": by_op["d"]}
    # Other tests of the session may have run workloads too: at least this one's changes are there.
    assert totals["sign_ups"] >= workload.rows[("customers", "insert")] > 0
    assert totals["profile_changes"] >= workload.rows[("customers", "update")] > 0
    assert totals["erasures"] >= workload.rows[("customers", "delete")]
    assert [d["day"] for d in days] == sorted((d["day"] for d in days), reverse=True)


def test_customers_by_country_and_its_rebuild_from_the_history_agree_with_the_database(
    customers_product: SourceAlignedRuntime, workload: ChangeCounts
) -> None:
    database = database_customers(customers_product.settings)
    expected = Counter(c["country"] for c in database.values())
    by_country = example_rows(customers_product, "customers_by_country")
    assert {r["country"]: r["customers"] for r in by_country} == expected
    opt_ins = Counter(c["country"] for c in database.values() if c["marketing_opt_in"])
    assert {r["country"]: r["marketing_opt_ins"] for r in by_country} == {k: opt_ins[k] for k in expected}
    assert all(r["first_sign_up"] <= r["latest_sign_up"] for r in by_country)
    # As of now, the state rebuilt from the history is the current state.
    rebuilt = example_rows(customers_product, "customers_by_country_as_of")
    assert {r["country"]: r["customers"] for r in rebuilt} == expected


def test_profile_change_frequency_accounts_for_every_customer_and_update(
    customers_product: SourceAlignedRuntime, workload: ChangeCounts
) -> None:
    buckets = example_rows(customers_product, "profile_change_frequency")
    customers = sql_rows(customers_product, f"SELECT count(DISTINCT customer_id) AS n FROM {CHANGES}")[0]["n"]
    updates = sql_rows(customers_product, f"SELECT count(*) AS n FROM {CHANGES} WHERE op = 'u'")[0]["n"]
    assert sum(b["customers"] for b in buckets) == customers
    assert sum(b["updates"] * b["customers"] for b in buckets) == updates > 0
    changed = sum(b[c] for b in buckets for c in ("email_changes", "name_changes", "country_changes", "opt_in_changes"))
    assert changed > 0, "profile edits change at least one of these fields"


def test_a_customers_history_is_in_source_order_and_ends_in_the_current_row(
    customers_product: SourceAlignedRuntime, client: httpx.Client, workload: ChangeCounts
) -> None:
    history = example_rows(customers_product, "customer_change_history")
    positions = [h["position"] for h in history]
    assert history and positions == sorted(positions)
    assert history[0]["op"] == "r", "customer 1 was seeded, so the initial snapshot read it first"
    rest = client.get("/changes", params={"customer_id": 1, "sort": "position"}).json()["items"]
    assert [(r["position"], r["op"]) for r in rest] == [(h["position"], h["op"]) for h in history]
    now = database_customers(customers_product.settings).get(1)
    if now is None:
        assert history[-1]["op"] == "d"
    else:
        assert history[-1]["op"] != "d" and history[-1]["email"] == now["email"]


def test_customer_by_id_is_the_database_row(
    customers_product: SourceAlignedRuntime, client: httpx.Client, workload: ChangeCounts
) -> None:
    found = graphql(client, example_query(customers_product, "customer_by_id").text)["customersByKey"]
    now = database_customers(customers_product.settings).get(1)
    if now is None:  # erased by a workload
        assert found is None
    else:
        assert (found["customerId"], found["email"], found["country"]) == (1, now["email"], now["country"])


def test_customers_of_a_country_page_through_every_one_of_them(
    customers_product: SourceAlignedRuntime, client: httpx.Client, workload: ChangeCounts
) -> None:
    text = example_query(customers_product, "customers_of_a_country").text
    database = database_customers(customers_product.settings)
    for country in ("US", "GB"):
        seen: list[dict[str, Any]] = []
        snapshots: set[int] = set()
        after: str | None = None
        while True:
            page = graphql(client, text, country=country, after=after)["customers"]
            assert len(page["items"]) <= 20
            seen += page["items"]
            snapshots.add(page["snapshotId"])
            after = page["nextCursor"]
            if after is None:
                break
        ids = [c["customerId"] for c in seen]
        assert sorted(ids) == sorted(k for k, c in database.items() if c["country"] == country)
        assert len(ids) > 20, "more than one page"
        assert [c["createdAt"] for c in seen] == sorted(c["createdAt"] for c in seen)
        assert len(snapshots) == 1, "every page reads the snapshot of the first"


def test_every_example_query_runs_for_a_consumer_without_a_pii_grant(
    customers_product: SourceAlignedRuntime, workload: ChangeCounts
) -> None:
    key = consumer_key(customers_product, "no-pii-analyst", pii=False)
    with http_client(customers_product, 30, key=key) as masked:
        answer = masked.post("/sql", json={"sql": f"SELECT DISTINCT email, full_name FROM {CHANGES}"})
        assert answer.json()["rows"] == [["***", "***"]], "personal data is masked without a PII grant"
        for query in customers_product.product.queries:
            if query.language == "sql":
                answer = masked.post("/sql", json={"sql": query.text.strip().rstrip(";")})
                assert answer.status_code == 200 and answer.json()["rows"], query.name
            else:
                data = graphql(masked, query.text)
                found = [data["customersByKey"]] if "customersByKey" in data else data["customers"]["items"]
                assert all(c["fullName"] == "***" for c in found if c is not None), query.name
