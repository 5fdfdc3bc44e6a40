"""Closing the one gap the output stream can have.

The history snapshot commits before the stream's transaction does. A crash between the two leaves
the newest batch in the table with its stream records aborted. At start, the runtime finds the newest
batch the stream has committed and, if the table's newest batch is later, republishes that batch."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
from confluent_kafka import Consumer, TopicPartition
from pyiceberg.expressions import GreaterThanOrEqual
from pyiceberg.table import Table

from mesh_sdk.storage.history import BATCH_AT, latest_batch


def newest_published_batch(consumer: Consumer, topic: str, partitions: int) -> datetime | None:
    """The newest `mesh.ingested-at` header among committed records (the consumer reads committed)."""
    newest: datetime | None = None
    for p in range(partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
        step = 64
        while high > low:
            start = max(low, high - step)
            found = _newest_in(consumer, topic, p, start, high)
            if found is not None:
                newest = found if newest is None else max(newest, found)
                break
            if start == low:
                break
            step *= 8  # an aborted batch can be long: look further back
    return newest


def _newest_in(consumer: Consumer, topic: str, partition: int, start: int, end: int) -> datetime | None:
    consumer.assign([TopicPartition(topic, partition, start)])
    newest: datetime | None = None
    empty_polls = 0
    while empty_polls < 5:
        messages = consumer.consume(500, timeout=0.5)
        if not messages:
            empty_polls += 1
            continue
        for msg in messages:
            if msg.error():
                continue
            for key, value in msg.headers() or []:
                if key == BATCH_AT:
                    at = datetime.fromisoformat(value.decode())
                    newest = at if newest is None else max(newest, at)
        position = consumer.position([TopicPartition(topic, partition)])[0].offset
        if position >= end - 1:
            break
    consumer.unassign()
    return newest


def missing_rows(table: Table, newest_published: datetime | None) -> pa.Table | None:
    """Rows of the newest batch when the stream has not committed it. Only that batch can be missing:
    the next batch cannot commit before the stream's transaction for this one has."""
    latest = latest_batch(table)
    if latest is None:
        return None
    batch_at = datetime.fromisoformat(latest)
    if newest_published is not None and newest_published >= batch_at:
        return None
    in_batch = GreaterThanOrEqual("ingested_at", latest)  # type: ignore[call-arg,arg-type]
    rows = table.scan(row_filter=in_batch).to_arrow()
    return rows if rows.num_rows else None
