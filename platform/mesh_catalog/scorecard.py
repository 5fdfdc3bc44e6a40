"""A product's scorecard: how far its consumers can trust it, from what the catalog knows about it.

Pure: built from the product's catalog entry (and the discovery document kept with it), its latest
observation report (`GET <url>/observations`, the shape of `mesh_sdk.observe.observations.Observer.report()`; None
when the catalog could not read one) and its current governance violations.

The parts, each shown with the figures it comes from:

- contract completeness (0..1): the mean of four parts, each 0..1: the share of the contract's columns
  with a description, the share with a classification, 1 when the contract declares quality rules (on a
  table or a column), 1 when the descriptor declares a freshness SLO. A product without columns has 0
  for both shares.
- quality pass rate: passed / total of the contract checks in the latest observations; None (unknown)
  without observations or when the report lists no checks.
- freshness: the observed `freshness_seconds` against `descriptor.slos.freshness_seconds`: `met` when
  it is at most the objective, `missed` when above, `unknown` when either figure is missing.
- policy compliance: the counts of `refuse` and `warn` violations; compliant when there is no `refuse`.
- availability: whether the product answered the catalog's last pull.

The overall score (0..100) adds five weighted parts; anything unknown earns nothing, because a
scorecard shows what is known to hold:

    score = 20 * completeness
          + 25 * quality pass rate                     (unknown: 0)
          + 25 * freshness                             (met: 1, missed or unknown: 0)
          + 20 * compliance                            (no violation: 1, warnings only: 0.5, a refusal: 0)
          + 10 * availability                          (available: 1, unavailable: 0)

rounded to one decimal. The grade: A from 90, B from 75, C from 50, D below; but a product that fails
half its contract checks or more, or violates a refusing policy, grades C at best: a consumer must not
read a good grade over a broken promise."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from mesh_discovery.entries import CatalogEntry, Status
from mesh_governance import Severity, Violation

WEIGHTS = {"completeness": 20.0, "quality": 25.0, "freshness": 25.0, "compliance": 20.0, "availability": 10.0}
GRADES = ((90.0, "A"), (75.0, "B"), (50.0, "C"), (0.0, "D"))


class Freshness(StrEnum):
    MET = "met"
    MISSED = "missed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Completeness:
    columns: int
    described: int  # columns with a description
    classified: int  # columns with a classification
    quality_rules: int  # declared in the contract, on tables and columns
    freshness_slo: bool

    @property
    def score(self) -> float:
        """The mean of the four parts, 0..1."""
        described = self.described / self.columns if self.columns else 0.0
        classified = self.classified / self.columns if self.columns else 0.0
        return (described + classified + (self.quality_rules > 0) + self.freshness_slo) / 4


@dataclass(frozen=True)
class Quality:
    checks: int | None  # None: no observations
    passed: int | None
    failed: tuple[str, ...]  # the names of the checks that did not pass

    @property
    def pass_rate(self) -> float | None:
        if not self.checks or self.passed is None:
            return None
        return self.passed / self.checks


@dataclass(frozen=True)
class FreshnessVsSlo:
    verdict: Freshness
    observed_seconds: float | None
    objective_seconds: float | None


@dataclass(frozen=True)
class Compliance:
    refusing: int
    warnings: int
    policies: tuple[str, ...]  # the ids of the policies violated

    @property
    def compliant(self) -> bool:
        return self.refusing == 0

    @property
    def score(self) -> float:
        return 0.0 if self.refusing else 0.5 if self.warnings else 1.0


@dataclass(frozen=True)
class Scorecard:
    product: str
    completeness: Completeness
    quality: Quality
    freshness: FreshnessVsSlo
    compliance: Compliance
    available: bool
    observed_at: str | None  # when the product made the report this scorecard reads, as it said

    @property
    def parts(self) -> dict[str, float]:
        """Each part of the score, 0..1, before its weight."""
        return {
            "completeness": self.completeness.score,
            "quality": self.quality.pass_rate or 0.0,
            "freshness": 1.0 if self.freshness.verdict is Freshness.MET else 0.0,
            "compliance": self.compliance.score,
            "availability": 1.0 if self.available else 0.0,
        }

    @property
    def score(self) -> float:
        return round(sum(WEIGHTS[name] * value for name, value in self.parts.items()), 1)

    @property
    def grade(self) -> str:
        grade = next(grade for floor, grade in GRADES if self.score >= floor)
        rate = self.quality.pass_rate
        broken = (rate is not None and rate < 0.5) or self.compliance.refusing > 0
        return max(grade, "C") if broken else grade  # letters: "C" sorts after "A" and "B"

    def as_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "grade": self.grade,
            "score": self.score,
            "parts": {name: round(value, 3) for name, value in self.parts.items()},
            "weights": dict(WEIGHTS),
            "completeness": asdict(self.completeness) | {"score": round(self.completeness.score, 3)},
            "quality": asdict(self.quality)
            | {"failed": list(self.quality.failed), "pass_rate": self.quality.pass_rate},
            "freshness": asdict(self.freshness) | {"verdict": self.freshness.verdict.value},
            "compliance": asdict(self.compliance)
            | {"policies": list(self.compliance.policies), "compliant": self.compliance.compliant},
            "available": self.available,
            "observed_at": self.observed_at,
        }


def scorecard(
    entry: CatalogEntry, observations: Mapping[str, Any] | None, violations: Iterable[Violation]
) -> Scorecard:
    """The scorecard of `entry`; a report that is not in the observation port's shape counts as none
    where it is not (a missing or malformed figure is unknown, never an error)."""
    report = observations if isinstance(observations, Mapping) else None
    found = list(violations)
    observed_at = report.get("observed_at") if report is not None else None
    return Scorecard(
        product=entry.id,
        completeness=_completeness(entry),
        quality=_quality(report),
        freshness=_freshness(entry, report),
        compliance=Compliance(
            refusing=sum(v.severity is Severity.REFUSE for v in found),
            warnings=sum(v.severity is Severity.WARN for v in found),
            policies=tuple(dict.fromkeys(v.policy for v in found)),
        ),
        available=entry.availability.status is Status.AVAILABLE,
        observed_at=observed_at if isinstance(observed_at, str) else None,
    )


def worst_first(cards: Iterable[Scorecard]) -> list[Scorecard]:
    return sorted(cards, key=lambda c: (c.score, c.product))


def _completeness(entry: CatalogEntry) -> Completeness:
    return Completeness(
        columns=len(entry.columns),
        described=sum(bool(c.description.strip()) for c in entry.columns),
        classified=sum(bool((c.classification or "").strip()) for c in entry.columns),
        quality_rules=_quality_rules(entry.document.get("contract")),
        freshness_slo=entry.slos.freshness_seconds is not None,
    )


def _quality_rules(contract: Any) -> int:
    if not isinstance(contract, Mapping):
        return 0
    count = 0
    for table in _list(contract.get("schema")):
        if isinstance(table, Mapping):
            count += len(_list(table.get("quality")))
            count += sum(len(_list(p.get("quality"))) for p in _list(table.get("properties")) if isinstance(p, Mapping))
    return count


def _quality(report: Mapping[str, Any] | None) -> Quality:
    checks = [c for c in _list(report.get("quality")) if isinstance(c, Mapping)] if report is not None else None
    if checks is None:
        return Quality(None, None, ())
    failed = tuple(str(c.get("check", "?")) for c in checks if c.get("passed") is not True)
    return Quality(len(checks), len(checks) - len(failed), failed)


def _freshness(entry: CatalogEntry, report: Mapping[str, Any] | None) -> FreshnessVsSlo:
    objective = entry.slos.freshness_seconds
    observed = report.get("freshness_seconds") if report is not None else None
    if not isinstance(observed, int | float) or isinstance(observed, bool):
        observed = None
    if observed is None or objective is None:
        verdict = Freshness.UNKNOWN
    else:
        verdict = Freshness.MET if observed <= objective else Freshness.MISSED
    return FreshnessVsSlo(verdict, None if observed is None else float(observed), objective)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
