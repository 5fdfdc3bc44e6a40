"""What a lab's check says: whether it passed, and what it saw, in the learner's terms."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    passed: bool
    saw: str  # what the check saw, in the learner's terms


def passed(saw: str) -> Outcome:
    return Outcome(True, saw)


def failed(saw: str) -> Outcome:
    return Outcome(False, saw)
