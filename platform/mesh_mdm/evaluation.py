"""How good a matching is, against the truth a generator kept: precision, recall and F1 of the match
band, and the share of records sent to review."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mesh_mdm.matching import Band, Candidate


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    review_share: float  # of the right records
    matched: int
    true_pairs: int

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def quality(candidates: Iterable[Candidate], truth: Mapping[str, str | None], right_records: int) -> Quality:
    """`truth`: each right record's true left record (None: it has none)."""
    found = list(candidates)
    matched = [c for c in found if c.band is Band.MATCH]
    correct = sum(1 for c in matched if truth.get(c.right) == c.left)
    true_pairs = sum(1 for left in truth.values() if left is not None)
    review = sum(1 for c in found if c.band is Band.REVIEW)
    return Quality(
        precision=correct / len(matched) if matched else 0.0,
        recall=correct / true_pairs if true_pairs else 0.0,
        review_share=review / right_records if right_records else 0.0,
        matched=len(matched),
        true_pairs=true_pairs,
    )
