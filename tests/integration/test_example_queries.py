"""Every data product's example queries (its queries/ folder), one behaviour suite run over every product
folder (products/*/dataproduct.yaml) on the whole mesh: the catalogue is documented and on discovery, and
every example answers on the product's ports, SQL with rows and GraphQL with its first field filled. What
each answer must be is checked by the products' own tests (products/*/tests)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesh_testing.mesh import RunningMesh
from mesh_testing.products import check_query_catalogue, eventually, http_client, query_files, run_example_query

pytestmark = pytest.mark.integration
FOLDERS = sorted(p.parent for p in (Path(__file__).resolve().parents[2] / "products").glob("*/dataproduct.yaml"))
EXAMPLES = [(folder, path) for folder in FOLDERS for path in query_files(folder)]
QUIET_S = 3.0  # no new snapshot for this long: what the product's sources sent is in

# Examples about one key the reader replaces, whose answer may rightly be empty: here only that they
# answer (no errors); what they answer is for the product's own tests.
MAY_ANSWER_NOTHING = {
    "playback.events": {"session_timeline"},  # a placeholder session id
    "subscriptions.customers": {"customer_by_id"},  # null once a workload erased customer 1
    "subscriptions.subscriptions": {"subscription_by_id"},  # gone with customer 1 (the erasure cascades)
    "crm.contacts": {"contact_by_id"},  # null once a workload erased contact 700001
    # Customer 1 may be erased; a small mesh may leave no pair to review.
    "customers.customer-360": {
        "golden_record_of_a_customer",
        "one_customer_everywhere",
        "review_queue",
        "review_queue_side_by_side",
    },
    # Customer 1 may be erased; a history of minutes (or the demo's three days) has nobody drifting away yet.
    "customers.customer-profile": {"profile_of_a_customer", "lapsing_customers"},
}


def first_field(data: dict[str, Any]) -> Any:
    """What a GraphQL answer's first field holds: a page's items, or the value itself (a row by key, a list)."""
    value = next(iter(data.values()))
    return value["items"] if isinstance(value, dict) and "items" in value else value


def newest_snapshot_unchanged(http: httpx.Client) -> bool:
    def newest() -> Any:
        snapshots = http.get("/snapshots").json()
        return snapshots[-1]["snapshot_id"] if snapshots else None

    before = newest()
    time.sleep(QUIET_S)
    return before is not None and newest() == before


@pytest.fixture(scope="module")
def mesh(running_mesh: RunningMesh) -> RunningMesh:
    """The whole mesh, settled: the playback traffic is in and engagement.viewing has processed it; every
    product fed from outside has stopped growing (so its SQL port's views, refreshed within seconds of a
    commit, have caught up); every derived product has recomputed from its inputs as they are now."""
    running_mesh.caught_up()
    for product in running_mesh.products.values():  # as whole_mesh started them: source-aligned, then upstream first
        if product.refresh_now() is None:  # fed from outside: nothing to recompute, so wait for what was sent
            with http_client(product) as http:
                eventually(lambda: newest_snapshot_unchanged(http), attempts=40, pause_s=0)
    return running_mesh


@pytest.fixture(scope="module")
def clients(mesh: RunningMesh) -> Iterator[dict[str, httpx.Client]]:
    """A client of each product's HTTP ports, by product name."""
    with ExitStack() as stack:
        yield {name: stack.enter_context(http_client(product)) for name, product in mesh.products.items()}


def test_the_mesh_runs_every_product_folder(running_mesh: RunningMesh) -> None:
    assert FOLDERS and sorted(running_mesh.products) == [folder.name for folder in FOLDERS]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_the_catalogue_holds_documented_sql_and_graphql_queries(
    folder: Path, mesh: RunningMesh, clients: dict[str, httpx.Client]
) -> None:
    check_query_catalogue(mesh[folder.name], clients[folder.name])
    assert MAY_ANSWER_NOTHING.get(folder.name, set()) <= {path.stem for path in query_files(folder)}


@pytest.mark.parametrize(("folder", "path"), EXAMPLES, ids=[f"{folder.name}/{path.name}" for folder, path in EXAMPLES])
def test_every_example_query_answers_on_its_port(
    folder: Path, path: Path, mesh: RunningMesh, clients: dict[str, httpx.Client]
) -> None:
    answer = run_example_query(mesh[folder.name], clients[folder.name], path)  # no errors; both SQL ports agree
    if path.stem in MAY_ANSWER_NOTHING.get(folder.name, set()):
        return
    if path.suffix == ".sql":
        assert answer, f"{path.name} answers no rows"
    else:
        assert first_field(answer), f"{path.name} answers nothing: {answer}"
