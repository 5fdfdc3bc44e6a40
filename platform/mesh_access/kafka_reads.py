"""What consumers read on Kafka, for the audit trail: the broker reports no reads, but every consumer
group a consumer uses is named `<consumer>.…`, so the advance of its committed offsets says who read how
many records of which topic, and when (within one pull). Pure: offsets in, reads out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mesh_config.naming import product_of_topic

Position = tuple[str, str, int]  # consumer group, topic, partition


@dataclass(frozen=True)
class Read:
    consumer: str
    product: str
    topic: str
    records: int  # committed offsets advanced (a transactional stream's commit markers count too)


def owner_of(group: str, consumers: Iterable[str]) -> str | None:
    """The consumer a group belongs to by its name, the longest matching id first."""
    for consumer in sorted(consumers, key=len, reverse=True):
        if group.startswith(f"{consumer}."):
            return consumer
    return None


def reads(before: Mapping[Position, int], now: Mapping[Position, int], consumers: Iterable[str]) -> list[Read]:
    """The reads between two looks at the committed offsets, summed per consumer and topic. A position
    seen for the first time counts from zero; one that went back (a reset) counts nothing."""
    known = list(consumers)
    totals: dict[tuple[str, str], int] = {}
    for (group, topic, partition), offset in now.items():
        advanced = offset - before.get((group, topic, partition), 0)
        consumer = owner_of(group, known)
        if advanced <= 0 or consumer is None or product_of_topic(topic) is None:
            continue
        totals[(consumer, topic)] = totals.get((consumer, topic), 0) + advanced
    return [Read(c, str(product_of_topic(t)), t, n) for (c, t), n in sorted(totals.items())]
