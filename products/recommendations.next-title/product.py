"""recommendations.next-title: the domain logic. Learn from viewing sessions which titles each
customer will watch next, check the model against the popularity baseline, and publish it.

Each refresh (on the schedule, or on `mesh retrain`) trains on the sessions and titles as of the
snapshots the platform pinned, evaluates a fresh model and the baseline on a time-based holdout, stores
the model and its card in S3 under a new version, and records the version with those snapshot ids. A
model that fails the quality gate is recorded but not put in service while a model that passed is."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mesh_ml import (
    ImplicitAls,
    Interactions,
    ModelCard,
    NotEnoughData,
    PopularityBaseline,
    QualityGate,
    TrainingInput,
    evaluate,
    quality_gate,
    recent_split,
)
from mesh_sdk import Context, Inputs, Update

TOP_N = 10
TEST_SHARE = 0.2  # the newest fifth of the sessions is the holdout
# Few factors: with a few thousand sessions, 16 or 32 overfit and lose to popularity (bench/model_lift.py).
HYPER_PARAMETERS: dict[str, Any] = {"factors": 8, "regularization": 1.0, "iterations": 15, "alpha": 2.0}
INTENDED_USE = (
    "Rank titles on a customer's home screen: the next title they are likely to start. Not for decisions "
    "about customers (pricing, eligibility); not evaluated for children's profiles."
)
LIMITATIONS = (
    "Customers the model has not seen get the most popular titles they have not watched.",
    "Titles released after training are never recommended until the next model.",
    "The holdout is the newest sessions: on a young mesh it spans minutes, and its metrics are noisy.",
)


def interactions(sessions: pa.Table) -> Interactions:
    """Each session with playback is a signal of its length: longer watching, stronger preference."""
    watched = sessions.filter(pc.greater(sessions["watch_seconds"], 0))
    return Interactions(
        watched["customer_id"].to_numpy(),
        watched["title_id"].to_numpy(),
        watched["watch_seconds"].to_numpy(),
        watched["started_at"].to_numpy().astype("datetime64[s]"),
    )


class Derivation:
    def __init__(self, context: Context) -> None:
        self.context = context
        # The models row and card of the model serving now: kept by the platform across restarts.
        self.serving: dict[str, Any] = context.state.setdefault("serving", {"row": None, "card": None})

    def refresh(self, inputs: Inputs) -> dict[str, Update]:
        sessions = inputs.table("sessions")
        data = interactions(sessions)
        if not len(data):
            return {}
        version = f"{inputs.now:%Y%m%dT%H%M%S}{inputs.now.microsecond // 1000:03d}Z"  # written once: unique
        model = ImplicitAls(**HYPER_PARAMETERS).fit(data)
        try:
            evaluation = evaluate(
                lambda: ImplicitAls(**HYPER_PARAMETERS), PopularityBaseline, data, TOP_N, split=self._holdout
            )
            gate, reason = quality_gate(evaluation), None
        except NotEnoughData as exc:
            evaluation, reason = None, str(exc)
            gate = QualityGate(False, {}, f"not evaluated: {exc}")
        artifact = model.to_bytes()
        card = ModelCard(
            model_name="recommendations.next-title",
            version=version,
            trained_at=inputs.now,
            algorithm=model.algorithm,
            hyper_parameters=model.hyper_parameters,
            training_data={
                "sessions": TrainingInput(inputs.snapshots["sessions"], len(data), data.first_day, data.last_day),
                "titles": TrainingInput(inputs.snapshots["titles"], inputs.table("titles").num_rows, None, None),
            },
            evaluation=evaluation,
            intended_use=INTENDED_USE,
            limitations=LIMITATIONS,
            quality_gate=gate,
            owner="Personalisation team",
            factors=("device", "country", "genre taste"),
            artifact_sha256=hashlib.sha256(artifact).hexdigest(),
            not_evaluated_because=reason,
        )
        store = self.context.artifacts
        uri = store.put(version, "model.npz", artifact)
        store.put(version, "card.json", json.dumps(card.to_dict()).encode(), "application/json")
        store.put(version, "card.md", card.to_markdown().encode(), "text/markdown")
        # A model that failed its gate does not replace one that passed.
        in_service = self.serving["row"]
        serve = gate.passed or in_service is None or not in_service["quality_gate_passed"]
        record = self._models_row(card, uri, serve, inputs)
        updates = {"models": Update.upsert([record])}
        if serve:
            self.serving.update(row=record, card=card.to_dict())
            updates["recommendations"] = Update.replace(self._top_n(model, data, inputs, version))
        return updates

    @staticmethod
    def _holdout(data: Interactions) -> Any:
        return recent_split(data, TEST_SHARE)

    def _top_n(self, model: ImplicitAls, data: Interactions, inputs: Inputs, version: str) -> list[dict[str, Any]]:
        titles = inputs.table("titles").select(["title_id", "name", "primary_genre"]).to_pylist()
        about = {t["title_id"]: t for t in titles}
        rows = []
        for customer, ranked in model.recommend(data.customers.tolist(), TOP_N).items():
            for rank, (title_id, score) in enumerate(ranked, start=1):
                title = about.get(title_id, {})
                rows.append(
                    {
                        "customer_id": customer,
                        "rank": rank,
                        "title_id": title_id,
                        "title_name": title.get("name"),
                        "primary_genre": title.get("primary_genre"),
                        "score": float(score),
                        "model_version": version,
                        "generated_at": inputs.now,
                    }
                )
        return rows

    @staticmethod
    def _models_row(card: ModelCard, uri: str, serve: bool, inputs: Inputs) -> dict[str, Any]:
        e = card.evaluation
        return {
            "version": card.version,
            "trained_at": card.trained_at,
            "algorithm": card.algorithm,
            "sessions_snapshot": inputs.snapshots["sessions"],
            "titles_snapshot": inputs.snapshots["titles"],
            "training_rows": card.training_data["sessions"].rows,
            "precision_at_10": e.model_precision if e else None,
            "recall_at_10": e.model_recall if e else None,
            "baseline_precision_at_10": e.baseline_precision if e else None,
            "baseline_recall_at_10": e.baseline_recall if e else None,
            "lift": e.lift if e else None,
            "test_customers": e.test_customers if e else None,
            "quality_gate_passed": card.quality_gate.passed,
            "quality_gate": card.quality_gate.summary,
            "in_service": serve,
            "artifact": uri,
        }

    def describe(self) -> dict[str, Any]:
        in_service = self.serving["row"]
        return {"model_in_service": in_service and in_service["version"], "model_card": self.serving["card"]}
