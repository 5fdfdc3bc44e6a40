"""The model card published next to every model artifact.

It follows "Model Cards for Model Reporting" (Mitchell et al., 2019): what the model is, what it is
for and not for, how it was evaluated and on which data, and its caveats. The training data is named by
Iceberg snapshot id, so anyone can re-read exactly the rows the model learnt from (time travel), and the
quality gate records whether the model was fit to replace the previous one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from mesh_ml.evaluation import Evaluation, QualityGate
from mesh_ml.models import HyperValue


@dataclass(frozen=True)
class TrainingInput:
    """One input the model was trained on: which snapshot of which table, how many rows, which days."""

    snapshot_id: int | None  # Iceberg snapshot id; None when the input was not an Iceberg table
    rows: int
    first_day: date | None
    last_day: date | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "rows": self.rows,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
        }


@dataclass(frozen=True)
class ModelCard:
    model_name: str
    version: str
    trained_at: datetime
    algorithm: str
    hyper_parameters: Mapping[str, HyperValue]
    training_data: Mapping[str, TrainingInput]  # input name (e.g. a product's output port) -> what was read
    evaluation: Evaluation | None  # None: the data could not support a holdout yet
    intended_use: str
    limitations: Sequence[str]
    quality_gate: QualityGate
    owner: str = ""
    # Groups or conditions performance may vary with; the evaluation does not break metrics down by them.
    factors: Sequence[str] = field(default_factory=tuple)
    artifact_sha256: str | None = None
    not_evaluated_because: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (dates and times as ISO 8601 text)."""
        return {
            "model_name": self.model_name,
            "version": self.version,
            "owner": self.owner,
            "trained_at": self.trained_at.isoformat(),
            "algorithm": self.algorithm,
            "hyper_parameters": dict(self.hyper_parameters),
            "artifact_sha256": self.artifact_sha256,
            "training_data": {name: data.to_dict() for name, data in self.training_data.items()},
            "evaluation": self.evaluation.to_dict() if self.evaluation is not None else None,
            "not_evaluated_because": self.not_evaluated_because,
            "intended_use": self.intended_use,
            "factors": list(self.factors),
            "limitations": list(self.limitations),
            "quality_gate": self.quality_gate.to_dict(),
        }

    def to_markdown(self) -> str:
        e = self.evaluation
        lines = [f"# Model card: {self.model_name} {self.version}", ""]

        lines += ["## Model details", ""]
        if self.owner:
            lines.append(f"- Owner: {self.owner}")
        lines += [
            f"- Version: {self.version}",
            f"- Trained at: {self.trained_at.isoformat()}",
            f"- Algorithm: {self.algorithm}",
        ]
        if self.artifact_sha256:
            lines.append(f"- Artifact SHA-256: `{self.artifact_sha256}`")
        if self.hyper_parameters:
            lines.append("- Hyper-parameters:")
            lines += [f"  - `{name}`: {value}" for name, value in self.hyper_parameters.items()]
        lines.append("")

        lines += ["## Intended use", "", self.intended_use, ""]

        lines += ["## Factors", ""]
        if self.factors:
            lines += [f"- {factor}" for factor in self.factors]
        else:
            lines.append("No factors (customer groups, genres, devices) were named for this model.")
        lines += ["", "Metrics are averaged over all test customers, not broken down by these factors.", ""]

        if e is None:
            lines += ["## Metrics", "", f"Not evaluated: {self.not_evaluated_because}", ""]
            lines += [f"Quality gate: {self.quality_gate.summary}", ""]
        else:
            k = e.k
            window = f"the last {e.test_days} days" if e.test_days else "the newest interactions"
            lines += [
                "## Metrics",
                "",
                f"Precision@{k} and recall@{k} of the top {k} titles, already-watched titles excluded, against the "
                "titles each customer watched for the first time in the test window; averaged over the customers "
                "with at least one such title. Coverage is the share of the catalogue recommended to anyone.",
                "",
                "| metric | model | popularity baseline | lift |",
                "|---|---|---|---|",
                f"| precision@{k} | {e.model_precision:.4f} | {e.baseline_precision:.4f} | {_ratio(e.lift)} |",
                f"| recall@{k} | {e.model_recall:.4f} | {e.baseline_recall:.4f} | {_ratio(e.recall_lift)} |",
                f"| coverage@{k} | {e.model_coverage:.4f} | {e.baseline_coverage:.4f} | |",
                "",
                f"Quality gate: {self.quality_gate.summary}",
                "",
            ]
            lines += [f"- {'pass' if ok else 'FAIL'}: {rule}" for rule, ok in self.quality_gate.checks.items()]
            lines.append("")

            lines += [
                "## Evaluation data",
                "",
                f"Time-based holdout: {window} of the training data, from {e.cutoff.isoformat()}. "
                f"{e.test_customers} test customers, {e.test_interactions} test interactions (customers and titles "
                f"also seen before the cutoff). The models compared were trained on the {e.train_interactions} "
                f"interactions before the cutoff ({e.train_customers} customers, {e.train_titles} titles).",
                "",
            ]

        lines += [
            "## Training data",
            "",
            "The published model was trained on these inputs (Iceberg snapshots, readable by time travel):",
            "",
            "| input | snapshot | rows | first day | last day |",
            "|---|---|---|---|---|",
        ]
        for name, data in self.training_data.items():
            lines.append(
                f"| {name} | {data.snapshot_id if data.snapshot_id is not None else '-'} | {data.rows} | "
                f"{data.first_day.isoformat() if data.first_day else '-'} | "
                f"{data.last_day.isoformat() if data.last_day else '-'} |"
            )
        lines.append("")

        lines += ["## Caveats and recommendations", ""]
        lines += [f"- {limitation}" for limitation in self.limitations] or ["- None recorded."]
        lines.append("")
        return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "n/a"
