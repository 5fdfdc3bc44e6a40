"""Telling a consumer that has stopped fetching a partition from one that has nothing to fetch.

An assign()-ed librdkafka consumer can stop fetching some of its partitions after a broker restart
(confluentinc/librdkafka#5153: no error, no log line). The high watermark it caches comes from the
very fetcher that is stuck, so it shows no lag while the input piles up; only the broker, asked
directly, knows. A partition is stalled when the broker says input is waiting and the consumer has
yielded nothing from it for `stall_s`. Pure: the caller asks the broker and keeps the clock."""

from __future__ import annotations

from collections.abc import Iterable

Partition = tuple[str, int]


class StallWatch:
    def __init__(self, stall_s: float = 20.0) -> None:
        self.stall_s = stall_s
        self._since: dict[Partition, float] = {}  # when each partition last yielded, or had nothing waiting

    def restart(self, partitions: Iterable[Partition], now: float) -> None:
        """The partitions were (re)assigned: each gets a fresh `stall_s` to yield."""
        self._since = dict.fromkeys(partitions, now)

    def yielded(self, partition: Partition, now: float) -> None:
        self._since[partition] = now

    def waiting(self, partition: Partition, waiting: int, now: float) -> bool:
        """The broker says `waiting` events are not yet consumed: is the partition stalled?"""
        if waiting <= 0:
            self._since[partition] = now
            return False
        return now - self._since.setdefault(partition, now) > self.stall_s
