"""Every table of a derived product on every port: REST and GraphQL look rows up by a composite key,
GraphQL serves each output table, and SQL's `as_of` names a snapshot of any of the tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mesh_sdk.runtime.derived import DerivedRuntime
from mesh_testing.mesh import RunningMesh
from mesh_testing.products import graphql, http_client, sql_rows

pytestmark = pytest.mark.integration
DAILY = "engagement.viewing_daily_v1"
SESSIONS = "engagement.viewing_sessions_v1"


@pytest.fixture(scope="module")
def engagement(running_mesh: RunningMesh) -> DerivedRuntime:
    running_mesh.caught_up()
    runtime: DerivedRuntime = running_mesh["engagement.viewing"]
    return runtime


@pytest.fixture(scope="module")
def client(engagement: DerivedRuntime) -> Iterator[httpx.Client]:
    with http_client(engagement) as http:
        yield http


@pytest.fixture(scope="module")
def a_daily_row(engagement: DerivedRuntime) -> dict[str, Any]:
    """A daily row as of the table's newest snapshot (`as_of` in the row): the product keeps refreshing."""
    pinned = engagement.readers["daily"].snapshots()[-1].snapshot_id
    query = f"SELECT * FROM {DAILY} ORDER BY watch_seconds DESC LIMIT 1"
    row: dict[str, Any] = engagement.sql_query(query, [], str(pinned)).to_pylist()[0]
    return row | {"as_of": str(pinned)}


def test_rest_looks_a_row_up_by_its_composite_key(client: httpx.Client, a_daily_row: dict[str, Any]) -> None:
    day, customer, title = a_daily_row["day"], a_daily_row["customer_id"], a_daily_row["title_id"]
    found = client.get(f"/daily/{day.isoformat()}/{customer}/{title}", params={"as_of": a_daily_row["as_of"]})
    assert found.status_code == 200, found.text
    assert found.json()["sessions"] == a_daily_row["sessions"]
    missing = client.get(f"/daily/{day.isoformat()}/{customer}/999999")
    assert missing.status_code == 404 and "title_id=999999" in missing.json()["detail"]


def test_rest_looks_a_session_up_by_its_single_key(client: httpx.Client, engagement: DerivedRuntime) -> None:
    pinned = str(engagement.readers["sessions"].snapshots()[-1].snapshot_id)  # the product keeps refreshing
    answer = client.post("/sql", json={"sql": f"SELECT session_id, events FROM {SESSIONS} LIMIT 1", "as_of": pinned})
    session_id, events = answer.json()["rows"][0]
    found = client.get(f"/sessions/{session_id}", params={"as_of": pinned})
    assert found.status_code == 200 and found.json()["events"] == events


def test_graphql_serves_every_output_table_and_composite_keys(
    client: httpx.Client, a_daily_row: dict[str, Any]
) -> None:
    day, customer, title = a_daily_row["day"].isoformat(), a_daily_row["customer_id"], a_daily_row["title_id"]
    as_of = a_daily_row["as_of"]
    data = graphql(
        client,
        f"""{{
             dailyByKey(day: "{day}", customerId: "{customer}", titleId: "{title}", asOf: "{as_of}") {{
               sessions watchSeconds
             }}
             sessions(where: {{customerId: {customer}}}, first: 5) {{ items {{ sessionId customerId }} }}
             sessionsSnapshots {{ snapshotId }}
             snapshots {{ snapshotId }}
           }}""",
    )
    assert data["dailyByKey"]["sessions"] == a_daily_row["sessions"]
    assert data["sessions"]["items"]
    assert {s["customerId"] for s in data["sessions"]["items"]} == {a_daily_row["customer_id"]}
    assert data["sessionsSnapshots"] and data["snapshots"]


def test_sql_as_of_names_a_snapshot_of_any_table(client: httpx.Client, engagement: DerivedRuntime) -> None:
    sessions_snapshot = engagement.readers["sessions"].snapshots()[-1]
    answer = client.post(
        "/sql",
        json={"sql": f"SELECT count(*) AS n FROM {SESSIONS}", "as_of": str(sessions_snapshot.snapshot_id)},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == [[sessions_snapshot.total_rows]]
    daily = client.post(
        "/sql", json={"sql": f"SELECT count(*) AS n FROM {DAILY}", "as_of": str(sessions_snapshot.snapshot_id)}
    )
    assert daily.status_code == 200, daily.text  # the daily table as it was when that snapshot was committed
    unknown = client.post("/sql", json={"sql": f"SELECT 1 FROM {DAILY}", "as_of": "12345"})
    assert unknown.status_code == 400 and "no snapshot 12345" in unknown.json()["error"]


def test_sql_port_has_a_view_per_recent_snapshot_of_each_table(engagement: DerivedRuntime) -> None:
    newest = engagement.readers["sessions"].snapshots()[-1]
    rows = sql_rows(engagement, f"SELECT count(*) AS n FROM {SESSIONS}_at_{newest.snapshot_id}")
    assert rows == [{"n": newest.total_rows}]


def test_sql_answers_with_infinity_as_text_rather_than_failing(client: httpx.Client) -> None:
    answer = client.post("/sql", json={"sql": "SELECT CAST('inf' AS DOUBLE) AS x, CAST('nan' AS DOUBLE) AS y"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == [["Infinity", "NaN"]]
