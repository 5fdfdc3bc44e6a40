"""customers.customer-360 on the live monolith and CRM: golden records as the generator's truth says,
a change in either system reaching its golden record without a full re-match, erasures, stewards'
decisions taken on the control port and kept through a re-match, PII masked without a grant."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from mesh_sources.crm import CrmWorkload
from mesh_testing.products import consumer_key, eventually, http_client, table_rows
from mesh_testing.topics import read_topic

from .conftest import Mastering

pytestmark = pytest.mark.integration
CONTROL = {"Authorization": "Bearer test-token"}


def truth(mastering: Mastering) -> dict[int, int | None]:
    s = mastering.settings
    with psycopg.connect(s.postgres_dsn(s.crm_db)) as conn:
        return dict(conn.execute("SELECT contact_id, customer_id FROM evaluation.contact_truth").fetchall())


def xref(mastering: Mastering) -> dict[str, dict[str, Any]]:
    rows = table_rows(mastering.settings, "customers.customer_360_xref_v1")
    return {f"{r['source']}:{r['source_id']}": r for r in rows}


def caught_up(mastering: Mastering) -> dict[str, dict[str, Any]]:
    """The cross-reference once it holds every current record of both systems."""
    s = mastering.settings

    def probe() -> dict[str, dict[str, Any]] | None:
        with psycopg.connect(s.postgres_dsn(s.crm_db)) as crm, psycopg.connect(s.postgres_dsn(s.legacy_db)) as legacy:
            contacts = {f"crm:{r[0]}" for r in crm.execute("SELECT contact_id FROM contacts")}
            customers = {f"subscriptions:{r[0]}" for r in legacy.execute("SELECT customer_id FROM customers")}
        found = xref(mastering)
        return found if set(found) == contacts | customers else None

    return eventually(probe, attempts=300, pause_s=0.5)


def test_the_golden_records_group_the_records_as_the_truth_says(mastering: Mastering) -> None:
    found = caught_up(mastering)
    # The truth's pairs whose customer is still there (the monolith's workload erases some).
    pairs = {k: c for k, c in truth(mastering).items() if c is not None and f"subscriptions:{c}" in found}
    together = sum(
        1 for k, c in pairs.items() if found[f"crm:{k}"]["golden_id"] == found[f"subscriptions:{c}"]["golden_id"]
    )
    assert together / len(pairs) >= 0.93, (together, len(pairs))
    wrongly = [
        k for k, r in found.items() if r["band"] == "match" and r["partner"] != f"subscriptions:{pairs.get(int(k[4:]))}"
    ]
    assert len(wrongly) <= 0.02 * len(pairs), wrongly
    golden = table_rows(mastering.settings, "customers.customer_360_golden_v1")
    assert len({g["golden_id"] for g in golden}) == len(golden), "one row per golden id"


def test_a_crm_workload_reaches_the_golden_records_incrementally(mastering: Mastering) -> None:
    s = mastering.settings
    caught_up(mastering)
    trained = mastering.hub.derivation.hub.state["trained_on"]
    with CrmWorkload.connect(s.postgres_dsn(s.crm_db), s.postgres_dsn(s.legacy_db), seed=29) as crm:
        for _ in range(60):
            crm.step()
        counts = crm.counts
    assert counts["erase"] > 0 and counts["second_contact"] > 0
    caught_up(mastering)
    assert mastering.hub.derivation.hub.state["trained_on"] == trained, "no re-match: the model stayed"

    def consistent() -> bool:  # each table is committed in turn: read both until they agree
        golden = {g["golden_id"] for g in table_rows(s, "customers.customer_360_golden_v1")}
        return golden == {r["golden_id"] for r in xref(mastering).values()}

    eventually(consistent, attempts=60, pause_s=0.5)  # a golden record with no record left is gone


def test_a_steward_matches_a_review_pair_and_the_decision_holds_through_a_rematch(
    mastering: Mastering, http: httpx.Client
) -> None:
    caught_up(mastering)
    queue = http.get("/reviews", params={"limit": 5, "sort": "-match_probability"}).json()["items"]
    assert queue, "the model leaves some pairs to a steward"
    pair = queue[0]
    refused = http.post(
        "/control/commands/match", json={"anchor": pair["anchor"], "record": "crm:1", "steward": "ana"}, headers=CONTROL
    )
    assert refused.status_code == 422 and "no crm record 'crm:1'" in refused.json()["detail"]
    assert http.post("/control/commands/merge", json={}, headers=CONTROL).status_code == 404
    assert http.post("/control/commands/match", json={}).status_code == 401
    decided = http.post(
        "/control/commands/match",
        json={
            "anchor": pair["anchor"],
            "record": pair["record"],
            "steward": "ana",
            "reason": "same person on the phone",
        },
        headers=CONTROL,
    )
    assert decided.status_code == 200, decided.text
    after = xref(mastering)
    assert after[pair["record"]]["golden_id"] == after[pair["anchor"]]["golden_id"]
    assert after[pair["record"]]["rule"].startswith("steward match by ana")
    decisions = http.get("/decisions").json()["items"]
    assert [(d["action"], d["anchor"], d["record"], d["steward"]) for d in decisions][-1] == (
        "match",
        pair["anchor"],
        pair["record"],
        "ana",
    )
    assert pair["record"] not in {r["record"] for r in http.get("/reviews", params={"limit": 1000}).json()["items"]}
    # On the decisions stream, which the audit log records like every product's change stream.
    topic = mastering.hub.product.descriptor.topic("decisions-stream")
    heard = read_topic(mastering.settings, topic, decode=True, keep=lambda r: r.record["steward"] == "ana", enough=1)
    assert heard[-1].record["record"] == pair["record"] and heard[-1].key == str(decisions[-1]["decision"]).encode()

    assert http.post("/control/commands/rematch", json={}, headers=CONTROL).status_code == 200
    again = xref(mastering)
    assert again[pair["record"]]["golden_id"] == again[pair["anchor"]]["golden_id"], "the decision holds"


def test_pii_is_masked_without_a_grant(mastering: Mastering) -> None:
    caught_up(mastering)
    key = consumer_key(mastering.hub, "no-pii-analyst", pii=False)
    with http_client(mastering.hub, 30, key=key) as masked:
        golden = masked.get("/golden", params={"limit": 5}).json()["items"]
        assert golden and all(g["email"] == "***" and g["full_name"] == "***" for g in golden)
        rows = masked.post(
            "/sql", json={"sql": "SELECT DISTINCT phone FROM customers.customer_360_xref_v1 WHERE phone IS NOT NULL"}
        ).json()["rows"]
        assert rows == [["***"]]
