"""Viewing engagement as a recommender sees it: who watched what, how much, on which day.

The rows stay as parallel arrays (one per interaction, usually one per customer, title and day from
`engagement.viewing`) so a time-based split can cut them by day. The models need something else: a
customer x title matrix with dense row/column indices. `Interactions` builds both, and keeps the sorted
id arrays so a dense index always maps back to the real customer or title id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import cast

import numpy as np
import numpy.typing as npt
import scipy.sparse

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
DayArray = npt.NDArray[np.datetime64]

# Defaults of the confidence transform, for weights in watch seconds: `scale` of a minute makes the
# first minutes count most, `alpha` sets how much more a long watch counts than a glance.
DEFAULT_ALPHA = 2.0
DEFAULT_SCALE = 60.0


class Interactions:
    """Implicit feedback rows: customer `customer_ids[i]` watched title `title_ids[i]` for `weights[i]`
    (e.g. watch seconds, strictly positive) on `days[i]`.

    A row is a positive signal only: absence of a row is "unknown", never "disliked", which is why
    weights must be positive (filter zero-time rows before building this)."""

    __slots__ = (
        "_customer_index",
        "_title_index",
        "customer_ids",
        "customers",
        "days",
        "title_ids",
        "titles",
        "weights",
    )

    def __init__(
        self,
        customer_ids: Sequence[int] | npt.ArrayLike,
        title_ids: Sequence[int] | npt.ArrayLike,
        weights: Sequence[float] | npt.ArrayLike,
        days: Sequence[date] | npt.ArrayLike,
    ) -> None:
        self.customer_ids: IntArray = np.asarray(customer_ids, dtype=np.int64).reshape(-1)
        self.title_ids: IntArray = np.asarray(title_ids, dtype=np.int64).reshape(-1)
        self.weights: FloatArray = np.asarray(weights, dtype=np.float64).reshape(-1)
        # Kept to the second: a holdout can cut within a day (`recent_split`) as well as between days.
        self.days: DayArray = np.asarray(days, dtype="datetime64[s]").reshape(-1)
        lengths = {len(self.customer_ids), len(self.title_ids), len(self.weights), len(self.days)}
        if len(lengths) != 1:
            raise ValueError(
                "customer_ids, title_ids, weights and days must have the same length, got "
                f"{len(self.customer_ids)}, {len(self.title_ids)}, {len(self.weights)}, {len(self.days)}"
            )
        if not np.all(np.isfinite(self.weights)) or np.any(self.weights <= 0):
            raise ValueError("weights must be finite and positive: an interaction is a positive signal")
        if np.any(np.isnat(self.days)):
            raise ValueError("every interaction needs a day")
        # Sorted unique ids: position = dense index. np.unique's inverse gives each row its index.
        self.customers: IntArray
        self.titles: IntArray
        self.customers, self._customer_index = np.unique(self.customer_ids, return_inverse=True)
        self.titles, self._title_index = np.unique(self.title_ids, return_inverse=True)

    def __len__(self) -> int:
        return len(self.customer_ids)

    def __repr__(self) -> str:
        span = f", {self.first_day} .. {self.last_day}" if len(self) else ""
        return f"Interactions({len(self)} rows, {len(self.customers)} customers, {len(self.titles)} titles{span})"

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    @property
    def n_titles(self) -> int:
        return len(self.titles)

    @property
    def first_day(self) -> date:
        if not len(self):
            raise ValueError("no interactions, so no first day")
        return cast(date, self.days.min().astype("datetime64[D]").item())

    @property
    def last_day(self) -> date:
        if not len(self):
            raise ValueError("no interactions, so no last day")
        return cast(date, self.days.max().astype("datetime64[D]").item())

    @property
    def distinct_days(self) -> int:
        return len(np.unique(self.days.astype("datetime64[D]")))

    @property
    def customer_index(self) -> IntArray:
        """Dense customer index of each row (a position in `customers`)."""
        return cast(IntArray, self._customer_index.astype(np.int64, copy=False))

    @property
    def title_index(self) -> IntArray:
        """Dense title index of each row (a position in `titles`)."""
        return cast(IntArray, self._title_index.astype(np.int64, copy=False))

    def select(self, mask: npt.NDArray[np.bool_]) -> Interactions:
        """The rows where `mask` is true, with their own (re-computed) dense indices."""
        return Interactions(self.customer_ids[mask], self.title_ids[mask], self.weights[mask], self.days[mask])

    def matrix(self) -> scipy.sparse.csr_matrix:
        """customer x title CSR matrix of summed weights (all days of a pair add up), float64.

        Rows follow `customers`, columns follow `titles`."""
        shape = (self.n_customers, self.n_titles)
        coo = scipy.sparse.coo_matrix((self.weights, (self.customer_index, self.title_index)), shape=shape)
        m = scipy.sparse.csr_matrix(coo)  # converting sums duplicate (customer, title) entries
        m.sum_duplicates()
        m.sort_indices()
        return m

    def confidence(self, alpha: float = DEFAULT_ALPHA, scale: float = DEFAULT_SCALE) -> scipy.sparse.csr_matrix:
        """The matrix as confidences for implicit ALS: c = 1 + alpha * log1p(total_weight / scale), float32.

        Why this shape (Hu, Koren & Volinsky 2008, eq. 6): in implicit-feedback ALS every watched pair
        has preference 1 and the matrix value is only how *sure* we are of it. A linear confidence
        (1 + alpha * seconds) would let one binge-watched series drown everything else a customer
        watched; the log grows quickly over the first `scale` units and slowly after, so "watched it"
        matters most and "watched it a lot" a bit more. c >= 1 for every watched pair; unwatched pairs
        are absent (confidence 1, preference 0, as the library assumes)."""
        if alpha < 0 or scale <= 0:
            raise ValueError(f"need alpha >= 0 and scale > 0, got alpha={alpha}, scale={scale}")
        m = self.matrix()
        m.data = (1.0 + alpha * np.log1p(m.data / scale)).astype(np.float32)
        return m.astype(np.float32)

    def seen(self) -> dict[int, set[int]]:
        """For each customer id, the set of title ids they watched."""
        out: dict[int, set[int]] = {}
        for customer, title in zip(self.customer_ids.tolist(), self.title_ids.tolist(), strict=True):
            out.setdefault(customer, set()).add(title)
        return out
