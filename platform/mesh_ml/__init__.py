"""Recommendation models for `recommendations.next-title`: the top-N titles a customer is likely to
watch next, learnt from viewing engagement. Pure: no servers, no I/O beyond bytes in and out.

`interactions` (rows and the customer x title matrix), `holdout` (the time-based split), `metrics`
(precision/recall@k), `models` (popularity baseline, implicit ALS), `evaluation` (model vs baseline on
the holdout, quality gate), `model_card` (the card published with the artifact)."""

from mesh_ml.evaluation import Evaluation, QualityGate, evaluate, quality_gate
from mesh_ml.holdout import NotEnoughData, Split, recent_split, time_split
from mesh_ml.interactions import Interactions
from mesh_ml.metrics import coverage, precision_at_k, recall_at_k
from mesh_ml.model_card import ModelCard, TrainingInput
from mesh_ml.models import HyperValue, ImplicitAls, PopularityBaseline, Ranked, Recommender

__all__ = [
    "Evaluation",
    "HyperValue",
    "ImplicitAls",
    "Interactions",
    "ModelCard",
    "NotEnoughData",
    "PopularityBaseline",
    "QualityGate",
    "Ranked",
    "Recommender",
    "Split",
    "TrainingInput",
    "coverage",
    "evaluate",
    "precision_at_k",
    "quality_gate",
    "recall_at_k",
    "recent_split",
    "time_split",
]
