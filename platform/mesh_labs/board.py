"""The labs and a learner's progress in them, for the portal's Labs page: read from the lab folders'
lab.yaml (never their checks.py: the portal runs no lab code) and the progress file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mesh_labs.catalogue import lab_folders
from mesh_labs.progress import ProgressStore, StepProgress
from mesh_labs.spec import LabSpec, LabSpecError, load_spec


@dataclass(frozen=True)
class StepView:
    id: str
    title: str
    progress: StepProgress


@dataclass(frozen=True)
class LabView:
    spec: LabSpec | None
    folder: str
    problem: str | None  # a lab.yaml that does not load is shown, with why
    started_at: str | None
    current: bool
    steps: tuple[StepView, ...]

    @property
    def passed(self) -> int:
        return sum(1 for s in self.steps if s.progress.status == "passed")


class LabsBoard:
    def __init__(self, labs_dir: Path, home: Path) -> None:
        self.labs_dir = labs_dir
        self.store = ProgressStore(home)

    def labs(self) -> list[LabView]:
        try:
            progress = self.store.load()
        except ValueError:
            progress = None
        views = []
        for folder in lab_folders(self.labs_dir):
            kept = progress.labs.get(folder.name) if progress else None
            try:
                spec = load_spec(folder)
            except LabSpecError as exc:
                views.append(LabView(None, folder.name, str(exc), None, False, ()))
                continue
            steps = tuple(
                StepView(s.id, s.title, kept.steps.get(s.id, StepProgress()) if kept else StepProgress())
                for s in spec.steps
            )
            current = progress is not None and progress.current == folder.name
            views.append(LabView(spec, folder.name, None, kept.started_at if kept else None, current, steps))
        return views
