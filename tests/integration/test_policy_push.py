"""Governance policies reach running products through the control topic: the catalog publishes the
policies in force, a product applies them without a restart, and a change of the policy file (masking a
classification) is in force on every port of the product at the next pull. A policy file that no longer
loads leaves the previous policies in force, saying why.

Private catalog port, control topic and policy file: nothing here reaches another module's products."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mesh_catalog.server import CatalogServer, state_path
from mesh_config import MeshSettings
from mesh_testing.products import eventually, free_port, http_client, running_product

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CUSTOMERS = "urn:mesh:subscriptions:customers:v1"


def write_policies(path: Path, version: int, masked: list[str]) -> None:
    """The repository's policies, with GOV-010 masking `masked` classifications."""
    data = yaml.safe_load((REPO / "governance" / "policies.yaml").read_text())
    data["version"] = version
    for policy in data["policies"]:
        if policy["id"] == "GOV-010":
            policy["parameters"]["classifications"] = masked
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(scope="module")
def governed(legacy_capture: MeshSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    policies = tmp_path_factory.mktemp("governance") / "policies.yaml"
    write_policies(policies, 3, ["restricted"])
    settings = legacy_capture.replaced(
        product_catalog_port=free_port(),
        control_topic=f"mesh.control.test-{uuid.uuid4().hex[:8]}",
        policies_file=policies,
        lineage_url="off",
    )
    state_path(settings).unlink(missing_ok=True)
    catalog = CatalogServer(settings, pull_every_s=0.5)
    catalog.start()
    try:
        with running_product(REPO / "products" / "subscriptions.customers", settings, batch_interval_s=0.5) as product:
            yield {"catalog": catalog, "product": product, "policies": policies, "settings": settings}
    finally:
        catalog.stop()


def _some_customer(http: httpx.Client) -> dict[str, Any]:
    items: list[dict[str, Any]] = eventually(lambda: http.get("/customers", params={"limit": 1}).json()["items"])
    return items[0]


def test_a_product_applies_the_policies_the_catalog_publishes(governed: dict[str, Any]) -> None:
    product = governed["product"]
    eventually(lambda: product.policy.platform and product.policy.platform.version == 3, attempts=100)
    with http_client(product) as http:
        assert http.get("/").json()["policy"]["platform"]["mask_classifications"] == ["restricted"]
        assert _some_customer(http)["email"] != "***"


def test_a_changed_policy_file_masks_a_classification_on_every_port_without_a_restart(
    governed: dict[str, Any],
) -> None:
    product, catalog = governed["product"], governed["catalog"]
    write_policies(governed["policies"], 4, ["restricted", "pii"])
    eventually(lambda: product.policy.platform and product.policy.platform.version == 4, attempts=100)
    with http_client(product) as http:
        customer = _some_customer(http)
        assert customer["email"] == "***" and customer["full_name"] == "***"
        one = http.get(f"/customers/{customer['customer_id']}").json()
        assert one["email"] == "***"
        emails = {"sql": "SELECT DISTINCT email FROM subscriptions.customers_customers_v1"}
        eventually(lambda: http.post("/sql", json=emails).json()["rows"] == [["***"]], attempts=50)
        graphql = http.post("/graphql", json={"query": "{ customers(first: 5) { items { email fullName } } }"}).json()
        assert {(c["email"], c["fullName"]) for c in graphql["data"]["customers"]["items"]} == {("***", "***")}
    with httpx.Client(base_url=catalog.url, timeout=10) as api:
        assert api.get("/policies").json()["version"] == 4

        def compliant() -> bool:
            violations = api.get("/violations", params={"product": CUSTOMERS}).json()["products"][0]["violations"]
            return not [v for v in violations if v["policy"] == "GOV-010"]

        eventually(compliant, attempts=50)


def test_a_broken_policy_file_leaves_the_previous_policies_in_force(governed: dict[str, Any]) -> None:
    catalog, product = governed["catalog"], governed["product"]
    governed["policies"].write_text("version: 5\npolicies: [{id: GOV-001, rule: no_such_rule}]\n")
    with httpx.Client(base_url=catalog.url, timeout=10) as api:
        answer = eventually(lambda: (a := api.get("/policies").json())["error"] and a, attempts=50)
        assert answer["version"] == 4 and "policies[0]" in answer["error"]
        assert "does not load" in api.get("/portal/policies").text
    assert product.policy.platform.version == 4 and "email" in product.policy.masked
    write_policies(governed["policies"], 5, ["restricted"])
    eventually(lambda: product.policy.platform.version == 5 and "email" not in product.policy.masked, attempts=100)
