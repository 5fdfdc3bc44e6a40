"""customers.customer-profile on the whole mesh: each customer's golden record beside their viewing and
their next titles, as an independent computation over its three inputs says; lineage from every input
to the columns it feeds; PII masked without a grant."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest

from mesh_testing.mesh import RunningMesh
from mesh_testing.products import consumer_key, eventually, http_client, table_rows

pytestmark = pytest.mark.integration
PROFILE = "urn:mesh:customers:customer-profile:v1"
INPUTS = {
    "urn:mesh:customers:customer-360:v1": "golden",
    "urn:mesh:engagement:viewing:v1": "daily",
    "urn:mesh:recommendations:next-title:v1": "recommendations",
}


@pytest.fixture
def profiles(running_mesh: RunningMesh) -> dict[int, dict[str, Any]]:
    running_mesh.caught_up()
    for name in ("recommendations.next-title", "customers.customer-360", "customers.customer-profile"):
        running_mesh[name].refresh_now()
    profile = running_mesh["customers.customer-profile"]
    return {
        r["customer_id"]: r for r in table_rows(running_mesh.settings, profile.product.descriptor.table("profiles"))
    }


def _inputs(mesh: RunningMesh) -> dict[str, list[dict[str, Any]]]:
    """Each input as of the snapshot the profile's last refresh read."""
    profile = mesh["customers.customer-profile"]
    tables = {"golden": "customers.customer_360_golden_v1", "daily": "engagement.viewing_daily_v1",
              "recommendations": "recommendations.next_title_recommendations_v1"}  # fmt: skip
    return {port: table_rows(mesh.settings, table, profile.seen[port]) for port, table in tables.items()}


def test_every_customer_has_a_profile_that_agrees_with_the_inputs(
    running_mesh: RunningMesh, profiles: dict[int, dict[str, Any]]
) -> None:
    inputs = _inputs(running_mesh)
    golden = {g["customer_id"]: g for g in inputs["golden"] if g["customer_id"] is not None}
    assert set(profiles) == set(golden), "one profile per customer, none for a prospect"
    today = max(d["day"] for d in inputs["daily"])
    watched: dict[int, float] = defaultdict(float)
    for d in inputs["daily"]:
        if d["day"] > today - timedelta(days=7):
            watched[d["customer_id"]] += d["watch_seconds"]
    ranked: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for r in inputs["recommendations"]:
        ranked[r["customer_id"]].append((r["rank"], r["title_name"]))
    assert any(watched.values()) and ranked, "the mesh's traffic reached engagement and the recommender"
    for customer, profile in profiles.items():
        assert profile["golden_id"] == golden[customer]["golden_id"]
        assert profile["email"] == golden[customer]["email"]
        assert profile["watch_hours_7d"] == pytest.approx(watched.get(customer, 0) / 3600, abs=0.0051), (
            customer
        )  # rounded to 2 places
        top = [name for _, name in sorted(ranked.get(customer, []))[:3]]
        assert profile["next_titles"] == (" · ".join(top) if top else None), customer
        assert profile["known_to_customer_care"] == ("crm" in golden[customer]["sources"])


def test_lineage_reaches_every_input_down_to_the_columns(
    running_mesh: RunningMesh, profiles: dict[int, dict[str, Any]]
) -> None:
    catalog = running_mesh.catalog.service
    upstream = eventually(
        lambda: (u := catalog.lineage().upstream(PROFILE)) and set(INPUTS) <= {e.source for e in u} and u,
        attempts=30,
        pause_s=1,
    )
    assert {e.source for e in upstream if e.target == PROFILE} == set(INPUTS)
    columns = catalog.column_lineage()
    feeding = {e.source for e in columns.upstream(f"{PROFILE}/profiles.next_titles")}
    assert "urn:mesh:recommendations:next-title:v1/recommendations.title_name" in feeding
    assert "urn:mesh:engagement:viewing:v1/daily.watch_seconds" in {
        e.source for e in columns.upstream(f"{PROFILE}/profiles.watch_hours_7d")
    }
    assert "urn:mesh:customers:customer-360:v1/golden.email" in {
        e.source for e in columns.upstream(f"{PROFILE}/profiles.email")
    }


def test_pii_is_masked_without_a_grant(running_mesh: RunningMesh, profiles: dict[int, dict[str, Any]]) -> None:
    profile = running_mesh["customers.customer-profile"]
    with http_client(profile, 30, key=consumer_key(profile, "no-pii", pii=False)) as masked:
        items = masked.get("/profiles", params={"limit": 5}).json()["items"]
    assert items and all(i["email"] == "***" and i["full_name"] == "***" for i in items)
