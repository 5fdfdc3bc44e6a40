"""Which value a golden record keeps when its source records disagree, attribute by attribute.

A product declares its rules in a file of its folder (`survivorship.yaml`): the systems, most trusted
first, and one rule per attribute:

- `source priority`: the value of the most trusted system that has one;
- `most recent`: the value of the record its system changed last;
- `most complete`: the value that says the most (the longest: a full date beats a year, a name beats
  an initial); a tie goes to the most trusted system.

Empty values never survive while another record has one. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml


class Rule(StrEnum):
    SOURCE_PRIORITY = "source priority"
    MOST_RECENT = "most recent"
    MOST_COMPLETE = "most complete"


class RulesInvalid(ValueError):
    """A survivorship file that cannot be used: says where and what to write instead."""


@dataclass(frozen=True)
class SourceRecord:
    """One system's record of a person, in the attributes the golden record is made of."""

    source: str  # the system: subscriptions, crm
    id: Any  # its id there
    attributes: Mapping[str, Any]  # standardised for the golden record (country codes in capitals, ...)
    created_at: datetime
    changed_at: datetime  # when its system last changed it
    received: Mapping[str, Any] | None = None  # the same attributes as the system sent them, if they differ

    @property
    def as_received(self) -> Mapping[str, Any]:
        return self.attributes if self.received is None else self.received

    @property
    def key(self) -> str:
        return f"{self.source}:{self.id}"


@dataclass(frozen=True)
class Survived:
    value: Any
    record: str | None  # the key of the record it came from (None: no record had one)
    rule: Rule


@dataclass(frozen=True)
class Survivorship:
    sources: tuple[str, ...]  # most trusted first
    rules: Mapping[str, Rule]  # by attribute, in the golden record's order

    @classmethod
    def load(cls, path: Path) -> Survivorship:
        try:
            spec = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise RulesInvalid(f"{path}: cannot be read: {exc}") from None
        if not isinstance(spec, dict) or not spec.get("sources") or not spec.get("attributes"):
            raise RulesInvalid(f"{path}: give `sources` (most trusted first) and `attributes` (one rule each)")
        rules: dict[str, Rule] = {}
        for attribute, declared in dict(spec["attributes"]).items():
            name = declared.get("rule") if isinstance(declared, dict) else declared
            try:
                rules[str(attribute)] = Rule(str(name))
            except ValueError:
                choices = ", ".join(r.value for r in Rule)
                raise RulesInvalid(f"{path}: attributes.{attribute}: unknown rule {name!r}; choose {choices}") from None
        return cls(tuple(str(s) for s in spec["sources"]), rules)

    def rank(self, record: SourceRecord) -> int:
        try:
            return self.sources.index(record.source)
        except ValueError:
            raise RulesInvalid(f"no survivorship priority for system {record.source!r}: add it to `sources`") from None

    def golden(self, records: Sequence[SourceRecord]) -> dict[str, Survived]:
        """Each attribute's surviving value, and which record it came from."""
        return {attribute: self.survive(attribute, rule, records) for attribute, rule in self.rules.items()}

    def survive(self, attribute: str, rule: Rule, records: Sequence[SourceRecord]) -> Survived:
        having = [r for r in records if not _empty(r.attributes.get(attribute))]
        if not having:
            return Survived(None, None, rule)
        trusted = sorted(having, key=lambda r: (self.rank(r), r.id))
        if rule is Rule.SOURCE_PRIORITY:
            chosen = trusted[0]
        elif rule is Rule.MOST_RECENT:
            chosen = max(trusted, key=lambda r: r.changed_at)  # max keeps the first of equals: the trusted one
        else:
            chosen = max(trusted, key=lambda r: len(str(r.attributes[attribute]).strip()))
        return Survived(chosen.attributes[attribute], chosen.key, rule)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
