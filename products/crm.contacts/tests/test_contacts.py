"""crm.contacts against the real CRM database: the current state follows every new contact, edit and
erasure; the history holds every change once; the example queries answer what the database implies;
personal data is masked without a PII grant."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sources.crm import CrmWorkload
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

from .conftest import COLUMNS, database_contacts

pytestmark = pytest.mark.integration
STATE = "crm.contacts_contacts_v1"
WORKLOAD_BEGAN: list[datetime] = []  # when this module's workload started
CHANGES = "crm.contacts_changes_v1"


@pytest.fixture(scope="module")
def workload(contacts_product: SourceAlignedRuntime) -> Counter[str]:
    """Agents' edits, second contacts, prospects and erasures on top of the seed, captured and queryable
    (other tests of the session change the CRM too: `began` says when this workload started)."""
    settings = contacts_product.settings
    eventually(lambda: state_matches(contacts_product, database_contacts(settings), COLUMNS), attempts=300)
    WORKLOAD_BEGAN.append(datetime.now(UTC))
    with CrmWorkload.connect(
        settings.postgres_dsn(settings.crm_db), settings.postgres_dsn(settings.legacy_db), seed=17
    ) as crm:
        for _ in range(200):
            crm.step()
        counts = crm.counts
    expected = database_contacts(settings)
    eventually(lambda: state_matches(contacts_product, expected, COLUMNS), attempts=300)
    eventually(lambda: sql_rows(contacts_product, f"SELECT count(*) AS n FROM {STATE}")[0]["n"] == len(expected))
    return counts


def _history(rt: SourceAlignedRuntime) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = rt.ingestor.table.refresh().scan().to_arrow().to_pylist()
    return rows


def test_the_state_equals_the_crm_and_the_history_holds_every_change_once(
    contacts_product: SourceAlignedRuntime, workload: Counter[str]
) -> None:
    history = _history(contacts_product)
    by_op = Counter(r["op"] for r in history if r["changed_at"] >= WORKLOAD_BEGAN[-1])
    assert by_op["c"] == workload["second_contact"] + workload["prospect"] > 0
    assert by_op["u"] == workload["edit"] > 0
    assert by_op["d"] == workload["erase"] > 0
    assert any(r["op"] == "r" for r in history), "the seeded contacts were read by the initial snapshot"
    keys = [(r["position"], r["contact_id"]) for r in history]
    assert len(keys) == len(set(keys)), "no change twice"
    # Typed as the agents typed them: the product cleans nothing.
    countries = {r["country"] for r in history if r["country"]}
    assert any(c.islower() for c in countries) and any(c.isupper() for c in countries)
    assert all(r["birth_date"] is None or r["birth_date"].year > 1900 for r in history)


def test_contacts_by_country_agree_with_the_database(
    contacts_product: SourceAlignedRuntime, workload: Counter[str]
) -> None:
    database = database_contacts(contacts_product.settings).values()
    expected = Counter(c["country"].upper() if c["country"] else None for c in database)
    rows = example_rows(contacts_product, "contacts_by_country")
    assert {r["country"]: r["contacts"] for r in rows} == expected
    with_phone = sum(1 for c in database if c["phone"])
    assert sum(r["with_phone"] for r in rows) == with_phone < sum(expected.values())


def test_per_day_counts_cover_every_captured_change(
    contacts_product: SourceAlignedRuntime, workload: Counter[str]
) -> None:
    days = example_rows(contacts_product, "new_contacts_edits_and_erasures_per_day")
    by_op = Counter(r["op"] for r in _history(contacts_product))
    totals = {c: sum(d[c] for d in days) for c in ("new_contacts", "edits", "erasures")}
    assert totals == {"new_contacts": by_op["c"], "edits": by_op["u"], "erasures": by_op["d"]}


def test_a_contacts_history_is_in_source_order_and_rest_agrees(
    contacts_product: SourceAlignedRuntime, http: httpx.Client, workload: Counter[str]
) -> None:
    history = example_rows(contacts_product, "contact_change_history")
    assert history and [h["position"] for h in history] == sorted(h["position"] for h in history)
    contact = sql_rows(contacts_product, f"SELECT min(contact_id) AS id FROM {CHANGES}")[0]["id"]
    rest = http.get("/changes", params={"contact_id": contact, "sort": "position"}).json()["items"]
    assert [(r["position"], r["op"]) for r in rest] == [(h["position"], h["op"]) for h in history]
    now = database_contacts(contacts_product.settings).get(contact)
    if now is None:
        assert history[-1]["op"] == "d" and http.get(f"/contacts/{contact}").status_code == 404
    else:
        assert http.get(f"/contacts/{contact}").json()["email"] == history[-1]["email"] == now["email"]


def test_graphql_finds_a_contact_and_pages_through_a_country(
    contacts_product: SourceAlignedRuntime, http: httpx.Client, workload: Counter[str]
) -> None:
    database = database_contacts(contacts_product.settings)
    found = graphql(http, example_query(contacts_product, "contact_by_id").text)["contactsByKey"]
    if 700001 in database:
        assert (found["contactId"], found["email"]) == (700001, database[700001]["email"])
    else:
        assert found is None
    text = example_query(contacts_product, "contacts_of_a_country").text
    seen: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = graphql(http, text, country="US", after=after)["contacts"]
        seen += page["items"]
        after = page["nextCursor"]
        if after is None:
            break
    assert sorted(c["contactId"] for c in seen) == sorted(k for k, c in database.items() if c["country"] == "US")
    assert len(seen) > 20, "more than one page"
    stamps = [datetime.fromisoformat(c["updatedAt"]).astimezone(UTC) for c in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_every_example_query_runs_for_a_consumer_without_a_pii_grant(
    contacts_product: SourceAlignedRuntime, workload: Counter[str]
) -> None:
    key = consumer_key(contacts_product, "no-pii-care-analyst", pii=False)
    with http_client(contacts_product, 30, key=key) as masked:
        answer = masked.post("/sql", json={"sql": f"SELECT DISTINCT email, last_name FROM {STATE} WHERE email <> ''"})
        assert answer.json()["rows"] == [["***", "***"]], "personal data is masked without a PII grant"
        for query in contacts_product.product.queries:
            if query.language == "sql":
                answer = masked.post("/sql", json={"sql": query.text.strip().rstrip(";")})
                assert answer.status_code == 200 and answer.json()["rows"], query.name
            else:
                data = graphql(masked, query.text)
                found = [data["contactsByKey"]] if "contactsByKey" in data else data["contacts"]["items"]
                assert all(c["lastName"] == "***" for c in found if c is not None), query.name
