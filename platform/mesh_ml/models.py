"""The recommenders: a popularity baseline and implicit-feedback ALS, behind one small protocol.

Both rank titles for a customer, exclude what the customer already watched (the product answers
"what next?"), and serialise to a self-contained artifact: a `.npz` zip (readable with `numpy.load`)
holding the arrays plus a `header.json` member with the format, the hyper-parameters and the
algorithm. The zip entries carry a fixed timestamp, so the same model always gives the same bytes and
an artifact's hash can serve as its identity."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol, Self, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from mesh_ml.interactions import DEFAULT_ALPHA, DEFAULT_SCALE, FloatArray, IntArray, Interactions

HyperValue = int | float | str | bool | None
Ranked = list[tuple[int, float]]  # (title id, score), best first

_FORMAT_VERSION = 1
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry; fixed for stable bytes


class Recommender(Protocol):
    """What the product needs from a model: fit on interactions, rank titles, round-trip as bytes."""

    @property
    def name(self) -> str: ...

    @property
    def algorithm(self) -> str: ...

    @property
    def hyper_parameters(self) -> dict[str, HyperValue]: ...

    def fit(self, interactions: Interactions) -> Self: ...

    def recommend(self, customer_ids: Iterable[int], n: int, exclude_seen: bool = True) -> dict[int, Ranked]:
        """Up to `n` (title id, score) pairs per customer, best first. Scores rank titles within one
        customer's list; they are not comparable across models or between a model and its fallback."""
        ...

    def to_bytes(self) -> bytes: ...

    @classmethod
    def from_bytes(cls, data: bytes) -> Self: ...


class _Training:
    """What every model keeps from its training data: the id mappings, who watched what (to exclude
    seen titles) and the popularity ranking (the baseline, and the fallback for unknown customers)."""

    def __init__(
        self,
        customers: IntArray,
        titles: IntArray,
        seen_indptr: npt.NDArray[np.int32],
        seen_indices: npt.NDArray[np.int32],
        popular: IntArray,
        popular_scores: FloatArray,
    ) -> None:
        self.customers = customers
        self.titles = titles
        self.seen = scipy.sparse.csr_matrix(
            (np.ones(len(seen_indices), dtype=np.float32), seen_indices, seen_indptr),
            shape=(len(customers), len(titles)),
        )
        self.popular = popular  # title indices, most watched first
        self.popular_scores = popular_scores

    @classmethod
    def of(cls, interactions: Interactions) -> _Training:
        if not len(interactions):
            raise ValueError("cannot fit a recommender on no interactions")
        m = interactions.matrix()
        totals = np.asarray(m.sum(axis=0)).reshape(-1)
        # Most watched first; equal totals in title-id order (titles are sorted, the sort is stable).
        order = np.argsort(-totals, kind="stable").astype(np.int64)
        return cls(
            customers=interactions.customers,
            titles=interactions.titles,
            seen_indptr=m.indptr.astype(np.int32),
            seen_indices=m.indices.astype(np.int32),
            popular=order,
            popular_scores=totals[order].astype(np.float64),
        )

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {
            "customers": self.customers,
            "titles": self.titles,
            "seen_indptr": self.seen.indptr.astype(np.int32),
            "seen_indices": self.seen.indices.astype(np.int32),
            "popular": self.popular,
            "popular_scores": self.popular_scores,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[Any]]) -> _Training:
        return cls(
            customers=arrays["customers"],
            titles=arrays["titles"],
            seen_indptr=arrays["seen_indptr"],
            seen_indices=arrays["seen_indices"],
            popular=arrays["popular"],
            popular_scores=arrays["popular_scores"],
        )

    def index(self, customer_id: int) -> int | None:
        """Dense index of a customer, None if training never saw them."""
        i = int(np.searchsorted(self.customers, customer_id))
        return i if i < len(self.customers) and int(self.customers[i]) == customer_id else None

    def seen_titles(self, index: int) -> set[int]:
        """Title *indices* the customer at `index` watched in training."""
        return set(self.seen.indices[self.seen.indptr[index] : self.seen.indptr[index + 1]].tolist())

    def most_popular(self, n: int, exclude: set[int]) -> Ranked:
        """The n most watched titles (by total training weight) whose index is not in `exclude`."""
        out: Ranked = []
        for title_index, score in zip(self.popular.tolist(), self.popular_scores.tolist(), strict=True):
            if title_index in exclude:
                continue
            out.append((int(self.titles[title_index]), float(score)))
            if len(out) == n:
                break
        return out


def _check_n(n: int) -> None:
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")


def _unique(customer_ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(int(c) for c in customer_ids))


def _pack(kind: str, header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> bytes:
    """An .npz (zip of .npy files) plus a header.json member, with fixed timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        meta = {"format": kind, "format_version": _FORMAT_VERSION, **header}
        info = zipfile.ZipInfo("header.json", date_time=_ZIP_EPOCH)
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, json.dumps(meta, sort_keys=True, indent=2))
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as f:
                np.lib.format.write_array(f, np.ascontiguousarray(arrays[name]), allow_pickle=False)
    return buf.getvalue()


def _unpack(kind: str, data: bytes) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            header = cast(dict[str, Any], json.loads(zf.read("header.json")))
            arrays: dict[str, npt.NDArray[Any]] = {}
            for name in zf.namelist():
                if name.endswith(".npy"):
                    with zf.open(name) as f:
                        arrays[name.removesuffix(".npy")] = np.lib.format.read_array(f, allow_pickle=False)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ValueError(f"not a {kind} artifact: {exc}") from exc
    if header.get("format") != kind:
        raise ValueError(f"this artifact holds a {header.get('format')!r}, not a {kind!r}")
    if header.get("format_version") != _FORMAT_VERSION:
        raise ValueError(f"unsupported {kind} format version {header.get('format_version')!r}")
    return header, arrays


class PopularityBaseline:
    """Everyone gets the most watched titles (total training weight), minus the ones they already saw.

    The bar any personalised model must clear: if ALS cannot beat "what everybody watches", its
    factors have learnt nothing about the customer."""

    name: ClassVar[str] = "popularity"
    algorithm: ClassVar[str] = "popularity baseline: titles ranked by total watch weight in the training data"
    _kind: ClassVar[str] = "mesh_ml.PopularityBaseline"

    def __init__(self) -> None:
        self._training: _Training | None = None

    @property
    def hyper_parameters(self) -> dict[str, HyperValue]:
        return {}

    def fit(self, interactions: Interactions) -> Self:
        self._training = _Training.of(interactions)
        return self

    def _fitted(self) -> _Training:
        if self._training is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() or from_bytes() first")
        return self._training

    def recommend(self, customer_ids: Iterable[int], n: int, exclude_seen: bool = True) -> dict[int, Ranked]:
        _check_n(n)
        training = self._fitted()
        out: dict[int, Ranked] = {}
        for customer in _unique(customer_ids):
            index = training.index(customer)
            exclude = training.seen_titles(index) if exclude_seen and index is not None else set()
            out[customer] = training.most_popular(n, exclude)
        return out

    def to_bytes(self) -> bytes:
        return _pack(self._kind, {"algorithm": self.algorithm, "hyper_parameters": {}}, self._fitted().arrays())

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        _, arrays = _unpack(cls._kind, data)
        model = cls()
        model._training = _Training.from_arrays(arrays)
        return model


@contextmanager
def _single_threaded() -> Iterator[None]:
    """BLAS on one thread, and implicit's warning about a multi-threaded BLAS silenced.

    implicit parallelises itself (we ask it for one thread too); a BLAS thread pool underneath makes
    training much slower and floating-point sums order-dependent, so results could vary run to run.
    implicit checks the BLAS pool once, when the first model is constructed, and warns; inside this
    block the pool is 1 so there is nothing to warn about, and the filter covers any other BLAS build."""
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*is configured to use \d+ threads", category=RuntimeWarning)
        yield


class ImplicitAls:
    """Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) by `implicit`'s CPU ALS with
    the conjugate-gradient solver.

    Confidence: the summed watch weight of each (customer, title) becomes
    c = 1 + alpha * log1p(weight / scale) (see `Interactions.confidence`); implicit's own `alpha`
    (a plain multiplier) is left at 1 so the transform is applied once.

    Determinism: one implicit thread, BLAS limited to one thread, factors seeded from `random_state`:
    the same data and hyper-parameters give the same factors, recommendations and artifact bytes.

    Unknown customers (not in the training data, so without factors) get the popularity ranking of
    the training data, the same list `PopularityBaseline` would give; `knows()` tells which customers
    are personalised. Their scores are total watch weights, not ALS scores."""

    name: ClassVar[str] = "implicit-als"
    algorithm: ClassVar[str] = (
        "implicit-feedback ALS (Hu, Koren & Volinsky 2008), implicit 0.7 CPU conjugate-gradient solver; "
        "popularity fallback for customers unknown to the model"
    )
    _kind: ClassVar[str] = "mesh_ml.ImplicitAls"

    def __init__(
        self,
        factors: int = 32,
        regularization: float = 1.0,
        iterations: int = 15,
        alpha: float = DEFAULT_ALPHA,
        scale: float = DEFAULT_SCALE,
        random_state: int = 42,
    ) -> None:
        if factors < 1 or iterations < 1:
            raise ValueError(f"need factors >= 1 and iterations >= 1, got {factors}, {iterations}")
        if regularization < 0:
            raise ValueError(f"regularization must be >= 0, got {regularization}")
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.scale = scale
        self.random_state = random_state
        self._training: _Training | None = None
        self._als: AlternatingLeastSquares | None = None

    @property
    def hyper_parameters(self) -> dict[str, HyperValue]:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "iterations": self.iterations,
            "alpha": self.alpha,
            "scale": self.scale,
            "random_state": self.random_state,
        }

    def _new_als(self) -> AlternatingLeastSquares:
        return AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=1.0,  # the confidence transform already applied alpha
            dtype=np.float32,
            iterations=self.iterations,
            num_threads=1,
            random_state=self.random_state,
        )

    def fit(self, interactions: Interactions) -> Self:
        training = _Training.of(interactions)
        confidence = interactions.confidence(alpha=self.alpha, scale=self.scale)
        with _single_threaded():
            als = self._new_als()
            als.fit(confidence, show_progress=False)
        self._training, self._als = training, als
        return self

    def _fitted(self) -> tuple[_Training, AlternatingLeastSquares]:
        if self._training is None or self._als is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() or from_bytes() first")
        return self._training, self._als

    @property
    def user_factors(self) -> npt.NDArray[np.float32]:
        """One row per customer, in the order of the training customer ids."""
        return cast(npt.NDArray[np.float32], self._fitted()[1].user_factors)

    @property
    def item_factors(self) -> npt.NDArray[np.float32]:
        """One row per title, in the order of the training title ids."""
        return cast(npt.NDArray[np.float32], self._fitted()[1].item_factors)

    def knows(self, customer_id: int) -> bool:
        """Whether the customer has factors (personalised) or gets the popularity fallback."""
        return self._fitted()[0].index(customer_id) is not None

    def recommend(self, customer_ids: Iterable[int], n: int, exclude_seen: bool = True) -> dict[int, Ranked]:
        """Top `n` titles per customer by the dot product of their factors.

        Each customer is scored in its own call to implicit: a batched call goes through a different
        BLAS kernel whose last float bits depend on the batch, and a customer's list must not depend on
        who else was in the request."""
        _check_n(n)
        training, als = self._fitted()
        n_titles = len(training.titles)
        # implicit pads a request for more titles than it has with (title 0, score 0): never ask for more.
        top = min(n, n_titles)
        out: dict[int, Ranked] = {}
        with _single_threaded():
            for customer in _unique(customer_ids):
                index = training.index(customer)
                if index is None:
                    out[customer] = training.most_popular(n, exclude=set())
                    continue
                ids, scores = als.recommend(index, training.seen[index], N=top, filter_already_liked_items=exclude_seen)
                # Filtered (seen) titles are not dropped by implicit but returned last with score -FLT_MAX.
                seen = training.seen_titles(index) if exclude_seen else set()
                out[customer] = [
                    (int(training.titles[i]), float(s))
                    for i, s in zip(ids.tolist(), scores.tolist(), strict=True)
                    if i not in seen
                ]
        return out

    def to_bytes(self) -> bytes:
        training, als = self._fitted()
        arrays = training.arrays()
        arrays["user_factors"] = als.user_factors
        arrays["item_factors"] = als.item_factors
        return _pack(self._kind, {"algorithm": self.algorithm, "hyper_parameters": self.hyper_parameters}, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        header, arrays = _unpack(cls._kind, data)
        model = cls(**header["hyper_parameters"])
        with _single_threaded():
            als = model._new_als()
        als.user_factors = arrays["user_factors"]
        als.item_factors = arrays["item_factors"]
        model._training, model._als = _Training.from_arrays(arrays), als
        return model
