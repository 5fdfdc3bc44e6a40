"""The learner's progress, kept under the mesh's state directory (`labs/progress.json`): the lab in
hand, each step's last check (not started, failed with what it saw, passed), hints and solves taken,
the learner's answers, and each lab's baseline (what the system looked like when the lab started, so a
check sees only what changed since)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Status = Literal["not started", "failed", "passed"]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class StepProgress:
    status: Status = "not started"
    saw: str = ""
    checked_at: str | None = None
    hints: int = 0  # tiers shown
    solved: bool = False  # fast-forwarded with `mesh lab solve`


@dataclass
class LabProgress:
    started_at: str | None = None
    baseline: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    steps: dict[str, StepProgress] = field(default_factory=dict)

    def step(self, step_id: str) -> StepProgress:
        return self.steps.setdefault(step_id, StepProgress())


@dataclass
class Progress:
    current: str | None = None  # the lab in hand, by folder name
    labs: dict[str, LabProgress] = field(default_factory=dict)

    def lab(self, name: str) -> LabProgress:
        return self.labs.setdefault(name, LabProgress())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        labs = {
            name: LabProgress(
                started_at=lab.get("started_at"),
                baseline=dict(lab.get("baseline") or {}),
                answers=dict(lab.get("answers") or {}),
                steps={s: StepProgress(**v) for s, v in (lab.get("steps") or {}).items()},
            )
            for name, lab in (data.get("labs") or {}).items()
        }
        return cls(current=data.get("current"), labs=labs)


class ProgressStore:
    def __init__(self, home: Path) -> None:
        self.path = home / "labs" / "progress.json"

    def load(self) -> Progress:
        try:
            return Progress.from_json(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return Progress()
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{self.path} is not a progress file ({exc}); remove it to start over") from None

    def save(self, progress: Progress) -> None:
        """Written whole through a temporary file, so an interrupted command never leaves half a file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".progress-")
        with os.fdopen(handle, "w") as out:
            json.dump(progress.to_json(), out, indent=2)
        os.replace(temporary, self.path)
