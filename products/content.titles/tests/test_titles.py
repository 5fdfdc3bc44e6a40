"""content.titles from the content team's transactional outbox: the catalogue follows every event,
each event is in the history once, and events the product cannot accept are dead-lettered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sources.content import ContentWorkload
from mesh_testing.products import eventually, http_client, state_matches
from mesh_testing.topics import dead_letters

from .conftest import COLUMNS, SEEDED_TITLES, database_titles

pytestmark = pytest.mark.integration
TOPIC = "cdc.content.outbox.title"


def test_the_catalogue_follows_the_content_teams_events(titles_product: SourceAlignedRuntime) -> None:
    settings = titles_product.settings
    eventually(lambda: state_matches(titles_product, database_titles(settings), COLUMNS), attempts=300)
    start = datetime.now(UTC)
    with ContentWorkload.connect(settings.postgres_dsn(settings.content_db), seed=5) as workload:
        for _ in range(150):
            workload.step()
        counts = workload.counts
    eventually(lambda: state_matches(titles_product, database_titles(settings), COLUMNS), attempts=300)

    def events_since() -> list[dict[str, object]]:
        rows = titles_product.ingestor.table.refresh().scan().to_arrow().to_pylist()
        return [r for r in rows if r["ingested_at"] > start]

    events = eventually(lambda: (e := events_since()) and len(e) >= counts.transactions and e)
    by_type = {t: sum(1 for e in events if e["event_type"] == t) for t in counts.events}
    assert by_type == dict(counts.events), "every event exactly once"
    everything = titles_product.ingestor.table.scan(selected_fields=("event_id",)).to_arrow()["event_id"].to_pylist()
    assert len(everything) == len(set(everything)) >= SEEDED_TITLES

    with http_client(titles_product) as http:
        some = next(iter(database_titles(settings).values()))
        assert http.get(f"/titles/{some['title_id']}").json()["name"] == some["name"]
        assert http.get("/changes", params={"title_id": some["title_id"]}).json()["items"]


def test_an_unknown_event_type_and_a_payload_that_is_not_json_are_dead_lettered(
    titles_product: SourceAlignedRuntime,
) -> None:
    settings = titles_product.settings
    source = Consumer({**settings.kafka_client(), "group.id": str(uuid.uuid4())})
    source.assign([TopicPartition(TOPIC, 0, 0)])
    real = eventually(lambda: source.poll(1.0))
    source.close()
    headers = {k: v for k, v in real.headers() or []}
    producer = Producer(settings.kafka_client())
    unknown = [("id", str(uuid.uuid4()).encode()), ("type", b"TitleTeleported")]
    producer.produce(TOPIC, key=real.key(), value=real.value(), headers=unknown)
    broken = real.value()[:5] + b"\x08{{{{"  # Avro string "{{{{": not JSON
    producer.produce(TOPIC, key=real.key(), value=broken, headers=[("id", headers["id"]), ("type", headers["type"])])
    assert producer.flush(30) == 0

    letters = dead_letters(settings, titles_product.deadletter_topic, enough=2)
    reasons = {d["mesh.dlq.defect"]: d["mesh.dlq.reason"] for d in letters}
    assert "TitleTeleported" in reasons["contract"]
    assert "not JSON" in reasons["unexpected-event"]
