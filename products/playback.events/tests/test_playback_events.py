"""playback.events on the real stack: events in, the same rows out of every port."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer
from pyiceberg.expressions import EqualTo

from mesh_adapters.lakehouse import iceberg_catalog
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_testing.topics import dead_letters, read_topic

pytestmark = pytest.mark.integration


def _comparable(row: dict[str, Any]) -> tuple[str, int, str]:
    return row["event_id"], row["position_ms"], row["event_type"]


def test_the_same_rows_come_out_of_rest_graphql_and_iceberg(
    product: SourceAlignedRuntime, http: httpx.Client, session_events: list[dict[str, Any]]
) -> None:
    session = session_events[0]["session_id"]
    expected = sorted(_comparable(e) for e in session_events)

    rest = http.get("/history", params={"session_id": session, "limit": 100}).json()["items"]
    fields = "items { eventId positionMs eventType }"
    query = f'{{ history(first: 100, where: {{sessionId: "{session}"}}) {{ {fields} }} }}'
    gql = http.post("/graphql", json={"query": query}).json()["data"]["history"]["items"]
    table = iceberg_catalog(product.settings).load_table("playback.events_history_v1")
    iceberg = table.scan(row_filter=EqualTo("session_id", session)).to_arrow().to_pylist()

    assert sorted(_comparable(r) for r in rest) == expected
    assert sorted((r["eventId"], r["positionMs"], r["eventType"]) for r in gql) == expected
    assert sorted(_comparable(r) for r in iceberg) == expected
    assert all(r["ingested_at"] is not None for r in iceberg)


def test_valid_events_are_republished_once_on_the_output_stream(
    product: SourceAlignedRuntime, session_events: list[dict[str, Any]]
) -> None:
    session = session_events[0]["session_id"]
    # Other tests may have filled the stream before: it is read to its end.
    received = read_topic(
        product.settings,
        product.stream_topic,
        decode=True,
        keep=lambda r: r.record is not None and r.record["session_id"] == session,
        enough=20,
    )
    seen = [r.record["event_id"] for r in received if r.record]
    assert sorted(seen) == sorted(e["event_id"] for e in session_events)


def test_dead_letters_carry_their_reason(product: SourceAlignedRuntime, session_events: list[dict[str, Any]]) -> None:
    session = session_events[0]["session_id"].encode()
    letters = dead_letters(
        product.settings,
        product.deadletter_topic,
        keep=lambda r: r.key == session or session in (r.value or b""),
        enough=6,
    )

    defects = sorted(h["mesh.dlq.defect"] for h in letters)
    assert defects == ["contract", "contract", "schema-invalid", "schema-invalid", "undecodable", "undecodable"]
    reasons = " | ".join(h["mesh.dlq.reason"] for h in letters)
    assert "country='nl' breaks the rule" in reasons
    assert "position_ms=-5 breaks the rule" in reasons
    assert all(h["mesh.source.topic"] == "playback.telemetry.raw.v1" for h in letters)
    assert all(h["mesh.dlq.product"] == "urn:mesh:playback:events:v1" for h in letters)


def test_observation_counts_dead_letters_and_duplicates(
    http: httpx.Client, session_events: list[dict[str, Any]]
) -> None:
    report = http.get("/observations").json()
    assert report["dead_letters"]["undecodable"] >= 2
    assert report["dead_letters"]["schema-invalid"] >= 2
    assert report["dead_letters"]["contract"] >= 2
    assert report["volumes"]["duplicates"] >= 2
    assert report["freshness_seconds"] is not None
    assert {q["check"]: q["passed"] for q in report["quality"]}["duplicateValues"] is True
    assert all(q["passed"] for q in report["quality"]), report["quality"]
    assert report["slos"]["freshness"]["met"] is True
    metrics = http.get("/metrics").text
    assert 'mesh_dead_letters_total{defect="undecodable",product="urn:mesh:playback:events:v1"}' in metrics
    assert "mesh_rows_written_total" in metrics


def test_time_travel_returns_the_earlier_state(http: httpx.Client, session_events: list[dict[str, Any]]) -> None:
    session = session_events[0]["session_id"]
    snapshots = http.get("/snapshots").json()
    first = snapshots[0]["snapshot_id"]
    now = http.get("/history", params={"session_id": session, "limit": 100}).json()
    before = http.get("/history", params={"session_id": session, "limit": 100, "as_of": str(first)}).json()
    key = session_events[0]["event_id"]

    assert len(now["items"]) == 20
    assert before["snapshot_id"] == first
    if first != now["snapshot_id"]:
        assert len(before["items"]) < 20
    earliest = http.get("/history", params={"as_of": "2000-01-01T00:00:00Z"})
    assert earliest.status_code == 400 and "no snapshot as early" in earliest.json()["error"]
    assert http.get(f"/history/{key}").json()["event_id"] == key


def test_cursor_pagination_walks_every_row_once(http: httpx.Client, session_events: list[dict[str, Any]]) -> None:
    session = session_events[0]["session_id"]
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"session_id": session, "limit": 6, "sort": "-position_ms"}
        if cursor:
            params["cursor"] = cursor
        page = http.get("/history", params=params).json()
        seen += [r["position_ms"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted((e["position_ms"] for e in session_events), reverse=True)


def test_bad_requests_get_a_4xx_naming_the_problem(http: httpx.Client) -> None:
    unknown = http.get("/history", params={"colour": "red"})
    assert unknown.status_code == 400 and "colour" in unknown.json()["error"]
    bad_type = http.get("/history", params={"position_ms__gt": "far"})
    assert bad_type.status_code == 400 and bad_type.json()["field"] == "position_ms__gt"
    bad_sort = http.get("/history", params={"sort": "-nope"})
    assert bad_sort.status_code == 400 and "nope" in bad_sort.json()["error"]
    bad_cursor = http.get("/history", params={"cursor": "garbage"})
    assert bad_cursor.status_code == 400 and "cursor" in bad_cursor.json()["error"]
    too_small, too_large = (http.get("/history", params={"limit": n}) for n in (0, 10**9))
    assert too_small.status_code == too_large.status_code == 400
    assert too_large.json()["field"] == "limit" and "1000" in too_large.json()["error"]
    assert http.get("/history/no-such-event").status_code == 404


def test_a_policy_masks_a_column_on_every_port_without_a_restart(
    http: httpx.Client, session_events: list[dict[str, Any]]
) -> None:
    session = session_events[0]["session_id"]
    assert http.put("/control/policy", json={"mask": ["country"]}).status_code == 401
    auth = {"Authorization": "Bearer test-token"}
    assert http.put("/control/policy", json={"mask": ["colour"]}, headers=auth).status_code == 422
    try:
        assert http.put("/control/policy", json={"mask": ["country"], "reason": "lab"}, headers=auth).status_code == 200
        rows = http.get("/history", params={"session_id": session}).json()["items"]
        query = f'{{ history(where: {{sessionId: "{session}"}}) {{ items {{ country }} }} }}'
        gql = http.post("/graphql", json={"query": query}).json()["data"]["history"]["items"]
        assert {r["country"] for r in rows} == {"***"}
        assert {r["country"] for r in gql} == {"***"}
    finally:
        http.put("/control/policy", json={"mask": []}, headers=auth)
    assert {r["country"] for r in http.get("/history", params={"session_id": session}).json()["items"]} == {"NL"}


def test_discovery_serves_descriptor_contract_schemas_and_ports(http: httpx.Client) -> None:
    found = http.get("/").json()
    assert found["descriptor"]["id"] == "urn:mesh:playback:events:v1"
    assert found["contract"]["kind"] == "DataContract"
    assert found["schemas"]["telemetry"]["name"] == "PlaybackEvent"
    assert {"rest", "graphql", "sql", "iceberg", "stream"} <= set(found["ports"])
    openapi = http.get("/openapi.json").json()
    params = {p["name"]: p for p in openapi["paths"]["/history"]["get"]["parameters"]}
    assert params["position_ms__gte"]["description"].startswith("Playhead position")


def test_observations_are_published_for_the_catalog(
    product: SourceAlignedRuntime, session_events: list[dict[str, Any]]
) -> None:
    consumer = Consumer(
        {
            **product.settings.kafka_client(),
            "group.id": str(uuid.uuid4()),
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe(["mesh.observations"])
    found = None
    for _ in range(60):
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error() and msg.key() == b"urn:mesh:playback:events:v1":
            found = json.loads(msg.value())
            break
    consumer.close()
    assert found is not None
    assert {"freshness_seconds", "dead_letters", "quality", "slos", "consumer_lag"} <= set(found)
