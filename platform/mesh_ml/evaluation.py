"""Offline evaluation: does the model predict the next titles better than popularity does?

Both models are fitted on the same time-based training set and asked for `k` titles for each test
customer (already-seen titles excluded); precision@k and recall@k are computed against the titles new to
each customer in the test window. A number on its own says little (it depends on catalogue size and
how much people watch), so the model is always reported next to the baseline, and `lift` is the ratio."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from mesh_ml.holdout import Split, time_split
from mesh_ml.interactions import Interactions
from mesh_ml.metrics import coverage, precision_at_k, recall_at_k
from mesh_ml.models import Recommender


@dataclass(frozen=True)
class Evaluation:
    k: int
    test_days: int
    cutoff: date  # first day of the test window
    train_customers: int
    train_titles: int
    train_interactions: int
    test_customers: int  # customers with at least one title new to them in the test window
    test_interactions: int  # test rows by customers and of titles seen in training
    model_precision: float
    model_recall: float
    baseline_precision: float
    baseline_recall: float
    model_coverage: float  # share of the training catalogue in some test customer's top-k
    baseline_coverage: float

    @property
    def lift(self) -> float | None:
        """precision@k of the model / precision@k of the baseline; None when the baseline scores 0."""
        return self.model_precision / self.baseline_precision if self.baseline_precision else None

    @property
    def recall_lift(self) -> float | None:
        """recall@k of the model / recall@k of the baseline; None when the baseline scores 0."""
        return self.model_recall / self.baseline_recall if self.baseline_recall else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the day as ISO text, the lifts included."""
        out = asdict(self)
        out["cutoff"] = self.cutoff.isoformat()
        out["lift"] = self.lift
        out["recall_lift"] = self.recall_lift
        return out


def evaluate(
    model_factory: Callable[[], Recommender],
    baseline_factory: Callable[[], Recommender],
    interactions: Interactions,
    k: int = 10,
    test_days: int = 7,
    split: Callable[[Interactions], Split] | None = None,
) -> Evaluation:
    """Split by time (`time_split` over `test_days`, or `split`; either raises `NotEnoughData` when the
    data cannot answer), fit a fresh model and a fresh baseline on the training part, and score both on
    the test part."""
    split_ = split(interactions) if split is not None else time_split(interactions, test_days)
    test_days = split_.test_days
    customers = sorted(split_.relevant)
    catalogue = split_.train.titles.tolist()

    def score(factory: Callable[[], Recommender]) -> tuple[float, float, float]:
        model = factory().fit(split_.train)
        ranked = model.recommend(customers, k, exclude_seen=True)
        titles = {customer: [title for title, _ in ranked.get(customer, [])] for customer in customers}
        return (
            precision_at_k(titles, split_.relevant, k),
            recall_at_k(titles, split_.relevant, k),
            coverage(titles, catalogue, k),
        )

    model_p, model_r, model_c = score(model_factory)
    base_p, base_r, base_c = score(baseline_factory)
    return Evaluation(
        k=k,
        test_days=test_days,
        cutoff=split_.cutoff,
        train_customers=split_.train.n_customers,
        train_titles=split_.train.n_titles,
        train_interactions=len(split_.train),
        test_customers=split_.test_customers,
        test_interactions=len(split_.test),
        model_precision=model_p,
        model_recall=model_r,
        baseline_precision=base_p,
        baseline_recall=base_r,
        model_coverage=model_c,
        baseline_coverage=base_c,
    )


@dataclass(frozen=True)
class QualityGate:
    """Whether an evaluated model may be published, and why (each rule with its outcome)."""

    passed: bool
    checks: dict[str, bool]
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quality_gate(evaluation: Evaluation, min_lift: float = 1.0, min_precision: float = 0.0) -> QualityGate:
    """The model must beat the baseline on precision@k by at least `min_lift` (and must not lose on
    recall@k), and reach `min_precision`. A baseline at 0 counts as beaten by any model above 0."""
    lift = evaluation.lift
    k = evaluation.k
    checks = {
        f"precision@{k} lift >= {min_lift}": (lift >= min_lift if lift is not None else evaluation.model_precision > 0),
        f"recall@{k} >= baseline": evaluation.model_recall >= evaluation.baseline_recall,
        f"precision@{k} >= {min_precision}": evaluation.model_precision >= min_precision,
    }
    passed = all(checks.values())
    failed = [rule for rule, ok in checks.items() if not ok]
    lift_text = f"{lift:.2f}" if lift is not None else "n/a (baseline 0)"
    summary = (
        f"{'passed' if passed else 'failed: ' + '; '.join(failed)} "
        f"(precision@{k} {evaluation.model_precision:.4f} vs baseline {evaluation.baseline_precision:.4f}, "
        f"lift {lift_text})"
    )
    return QualityGate(passed=passed, checks=checks, summary=summary)
