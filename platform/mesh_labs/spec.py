"""A lab's `lab.yaml`: what it teaches, what it needs running (its profile), and its steps with their
tiered hints. Loaded strictly: a mistake names the file, the field and the fix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

STEP_ID = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
FOLDER = re.compile(r"^(?P<number>\d{2})-(?P<slug>[a-z0-9-]+)$")


class LabSpecError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Profile(_Strict):
    """What must run for the lab: `mesh lab start` starts only these (the stack always)."""

    sources: list[Literal["legacy", "content", "crm", "subscriptions"]] = Field(
        default_factory=list, description="operational DBs captured"
    )
    audit: bool = False
    catalog: bool = True
    products: list[str] = Field(default_factory=list, description="product folders, started on their ports")
    learner: bool = True  # the learner's identity (the demo analyst) with grants on the running products
    playback_events: int = Field(default=0, ge=0, description="at least this many events in playback.events' history")


class Step(_Strict):
    id: str
    title: str
    task: str  # what the learner does, in the learner's words
    observe: str = ""  # what the learner should see once it is done
    hints: list[str] = Field(min_length=1, description="tiers, each more direct than the one before")

    @field_validator("id")
    @classmethod
    def _stable_id(cls, value: str) -> str:
        if not STEP_ID.match(value):
            raise ValueError(f"{value!r} is not a step id: lowercase letters, digits and '-', starting with a letter")
        return value


class LabSpec(_Strict):
    id: str  # the folder's number, "01"
    slug: str
    title: str
    concept: str  # the decision of DESIGN §8 (or the part of the mesh) the lab teaches
    duration_min: int = Field(ge=5, le=60)
    difficulty: Literal["beginner", "intermediate", "advanced"]
    prerequisites: list[str] = Field(default_factory=list, description="other labs' ids")
    profile: Profile = Profile()
    steps: list[Step] = Field(min_length=1)
    stretch: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list, description="for the room, after the lab")

    @model_validator(mode="after")
    def _unique_steps(self) -> LabSpec:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} appears twice: step ids must be unique")
            seen.add(step.id)
        return self

    @property
    def name(self) -> str:
        return f"{self.id}-{self.slug}"

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise LabSpecError(f"lab {self.name} has no step {step_id!r}; its steps: {', '.join(self.step_ids)}")

    @property
    def step_ids(self) -> list[str]:
        return [s.id for s in self.steps]


def load_spec(folder: Path) -> LabSpec:
    path = folder / "lab.yaml"
    match = FOLDER.match(folder.name)
    if match is None:
        raise LabSpecError(f"{folder}: a lab folder is named NN-slug (two digits, a dash, lowercase words)")
    try:
        raw: Any = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise LabSpecError(f"{path}: missing; every lab folder has a lab.yaml") from None
    except yaml.YAMLError as exc:
        raise LabSpecError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise LabSpecError(f"{path}: must be a mapping of fields (id, title, concept, steps, ...)")
    try:
        spec = LabSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors())
        raise LabSpecError(f"{path}: {problems}") from None
    if (spec.id, spec.slug) != (match["number"], match["slug"]):
        raise LabSpecError(f"{path}: id {spec.id!r} and slug {spec.slug!r} must match the folder name {folder.name!r}")
    return spec
