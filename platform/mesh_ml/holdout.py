"""A time-based holdout for the "next title" question.

A random split of rows would let the model see a customer's Tuesday to predict their Monday; the
product is asked what a customer will watch *next*, so the split is by day: train on everything before
a cutoff day, test on what happened from it on. A title counts as relevant for a customer only if they
watched it in the test window and *not* in train: re-watching a known title is not what a "next title"
recommendation is for, and both models exclude already-seen titles anyway.

When the data cannot answer that question the split raises `NotEnoughData` naming what is missing,
rather than falling back to some other split whose numbers would mean something else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from mesh_ml.interactions import Interactions


class NotEnoughData(ValueError):
    """The interactions cannot support the requested split or evaluation; the message says what is missing."""


@dataclass(frozen=True)
class Split:
    """The result of `time_split`.

    `test` holds only rows whose customer *and* title appear in `train`: a model cannot recommend a
    title it never saw, nor personalise for a customer it never saw, so such rows would measure the
    catalogue's churn, not the model. `relevant` maps each test customer to the titles new to them in
    the test window; customers with no new title are left out (they cannot score a hit)."""

    train: Interactions
    test: Interactions
    relevant: dict[int, set[int]]
    cutoff: date  # first day of the test window; train is strictly before it
    test_days: int  # 0 for a split within a day (`recent_split`)
    cutoff_at: str = ""  # the exact moment of the cut (ISO), when it falls within a day

    @property
    def test_customers(self) -> int:
        return len(self.relevant)


def time_split(interactions: Interactions, test_days: int) -> Split:
    """Train = rows strictly before the cutoff day, test = rows on or after it, where
    cutoff = last day present - test_days + 1 (the test window is the last `test_days` calendar days).

    Raises `NotEnoughData` when there are no rows, fewer than 2 distinct days, no day left before the
    cutoff, no test row by a customer and of a title seen in train, or no customer who watched a title
    new to them in the test window."""
    if test_days < 1:
        raise ValueError(f"test_days must be at least 1, got {test_days}")
    if not len(interactions):
        raise NotEnoughData("no interactions at all: nothing to train or test on")
    if interactions.distinct_days < 2:
        raise NotEnoughData(
            f"all {len(interactions)} interactions are on one day ({interactions.first_day}): "
            "a time-based holdout needs at least 2 distinct days"
        )
    first, last = interactions.first_day, interactions.last_day
    cutoff = last - timedelta(days=test_days - 1)
    if cutoff <= first:
        raise NotEnoughData(
            f"a {test_days}-day test window (from {cutoff}) leaves no training day: the data spans only "
            f"{first} .. {last} ({(last - first).days + 1} days); use a shorter test window"
        )

    return _split_at(interactions, np.datetime64(cutoff, "s"), f"{cutoff}", test_days)


def recent_split(interactions: Interactions, test_share: float = 0.2) -> Split:
    """Train on the oldest interactions, test on the newest `test_share` of them (cut at that quantile
    of their times, within a day if need be): the same "next title" question as `time_split`, for data
    that spans hours rather than weeks."""
    if not 0 < test_share < 1:
        raise ValueError(f"test_share must be between 0 and 1, got {test_share}")
    if len(interactions) < 2:
        raise NotEnoughData(f"{len(interactions)} interaction(s): a holdout needs at least two")
    seconds = np.sort(interactions.days.astype("int64"))
    cutoff = np.datetime64(int(seconds[int(len(seconds) * (1 - test_share))]), "s")
    if cutoff <= interactions.days.min():
        raise NotEnoughData(f"all {len(interactions)} interactions happened at the same moment: nothing is older")
    return _split_at(interactions, cutoff, str(cutoff), 0)


def _split_at(interactions: Interactions, cutoff_at: np.datetime64, cutoff: str, test_days: int) -> Split:
    before = interactions.days < cutoff_at
    train = interactions.select(before)
    after = ~before
    known = np.isin(interactions.customer_ids, train.customers) & np.isin(interactions.title_ids, train.titles)
    test = interactions.select(after & known)
    if not len(test):
        raise NotEnoughData(
            f"no test customers: none of the {int(after.sum())} interactions from {cutoff} on is by a customer "
            "and of a title that also appear before it"
        )

    seen = train.seen()
    relevant: dict[int, set[int]] = {}
    for customer, titles in test.seen().items():
        new = titles - seen.get(customer, set())
        if new:
            relevant[customer] = new
    if not relevant:
        raise NotEnoughData(
            f"no test customer watched a title new to them from {cutoff} on: all {len(test)} test interactions "
            "are re-watches, so there is no 'next title' to predict"
        )
    day = cutoff_at.astype("datetime64[D]").item()
    return Split(train=train, test=test, relevant=relevant, cutoff=day, test_days=test_days, cutoff_at=str(cutoff_at))
