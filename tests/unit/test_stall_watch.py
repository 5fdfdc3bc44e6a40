"""A partition the consumer stopped fetching is told from one with nothing to fetch."""

from __future__ import annotations

from mesh_sdk.ingest.stall_watch import StallWatch

P0, P1 = ("input", 0), ("input", 1)


def test_a_partition_with_input_waiting_and_nothing_yielded_for_the_bound_is_stalled() -> None:
    watch = StallWatch(stall_s=20)
    watch.restart([P0, P1], now=0)
    assert not watch.waiting(P0, 500, now=10)
    assert not watch.waiting(P0, 500, now=20)
    assert watch.waiting(P0, 500, now=21)


def test_a_partition_that_yields_or_has_nothing_waiting_is_not_stalled() -> None:
    watch = StallWatch(stall_s=20)
    watch.restart([P0, P1], now=0)
    watch.yielded(P0, now=15)
    assert not watch.waiting(P0, 500, now=30)  # a backlog being worked through
    assert not watch.waiting(P1, 0, now=30)  # caught up
    assert not watch.waiting(P1, 7, now=45)  # new input, 15 s after it was last caught up
    assert watch.waiting(P1, 7, now=51)


def test_assigning_again_gives_every_partition_a_fresh_bound() -> None:
    watch = StallWatch(stall_s=20)
    watch.restart([P0], now=0)
    assert watch.waiting(P0, 3, now=25)
    watch.restart([P0], now=25)
    assert not watch.waiting(P0, 3, now=40)
