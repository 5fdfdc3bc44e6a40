"""Search over the catalog: every word of the query must match a product somewhere, as a whole word or
the start of one (`watch` finds `watch_seconds`), and where it matches decides the rank.

A few products with a few hundred columns need no index: each query reads every entry."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mesh_discovery.entries import CatalogEntry
from mesh_sdk.spec.descriptor import ProductType

# Where a word matches says how likely the product is what was meant: its name more than one of its
# columns, a column more than the prose around it.
EXACT_NAME, NAME, DOMAIN, EXACT_COLUMN, COLUMN, TAG, OWNER, TEXT = 100, 60, 40, 30, 20, 15, 10, 5


@dataclass(frozen=True)
class Hit:
    entry: CatalogEntry
    score: int
    matches: tuple[str, ...]  # where the query matched, best first, e.g. "column customer_id of table daily"


@dataclass(frozen=True)
class _Field:
    label: str
    text: str
    exact: int  # weight when a query word is the whole field
    partial: int  # weight when it is (the start of) a word in it


def search(
    entries: Iterable[CatalogEntry], query: str, *, domain: str | None = None, type: str | None = None
) -> list[Hit]:
    terms = re.findall(r"[\w.-]+", query.lower())
    types = ProductType.filter(type)
    hits = []
    for entry in entries:
        if (domain is not None and entry.domain != domain) or (types is not None and entry.type not in types):
            continue
        hit = _match(entry, terms)
        if hit is not None:
            hits.append(hit)
    return sorted(hits, key=lambda h: (-h.score, -len(h.matches), h.entry.id))


def _match(entry: CatalogEntry, terms: list[str]) -> Hit | None:
    fields = list(_fields(entry))
    score, found = 0, dict[str, int]()
    for term in terms:
        weights: dict[str, int] = {}
        for f in fields:
            if weight := _weight(f, term):
                weights[f.label] = max(weight, weights.get(f.label, 0))
        if not weights:
            return None
        score += max(weights.values())
        for label, weight in weights.items():
            found[label] = max(weight, found.get(label, 0))
    return Hit(entry, score, tuple(sorted(found, key=lambda label: -found[label])))


def _weight(field: _Field, term: str) -> int:
    text = field.text.lower()
    if text == term:
        return field.exact
    return field.partial if any(word.startswith(term) for word in _words(text)) else 0


def _words(text: str) -> Iterator[str]:
    """Whole identifiers and their parts: `at_risk_subscribers` is also `risk` and `subscribers`."""
    for chunk in re.findall(r"[\w-]+", text):
        yield chunk
        yield from re.split(r"[_-]", chunk)


def _fields(entry: CatalogEntry) -> Iterator[_Field]:
    yield _Field("name", entry.name, EXACT_NAME, NAME)
    yield _Field("name", f"{entry.domain}.{entry.name}", EXACT_NAME, NAME)
    yield _Field("domain", entry.domain, DOMAIN, DOMAIN)
    yield _Field("description", entry.description, TEXT, TEXT)
    yield _Field("business objective", entry.business_objective, TEXT, TEXT)
    for persona in entry.personas:
        yield _Field(f"persona {persona.role}", persona.role, TAG, TAG)
        yield _Field(f"what persona {persona.role} needs", persona.needs, TEXT, TEXT)
        for skill in persona.skills:
            yield _Field(f"skill {skill} of persona {persona.role}", skill, TAG, TAG)
    for tag in entry.tags:
        yield _Field(f"tag {tag}", tag, TAG, TAG)
    if entry.owner is not None:
        yield _Field("owner", f"{entry.owner.team} {entry.owner.contact or ''}", OWNER, OWNER)
    for c in entry.columns:
        yield _Field(f"column {c.name} of table {c.table}", c.name, EXACT_COLUMN, COLUMN)
        yield _Field(f"description of column {c.name} of table {c.table}", c.description, TEXT, TEXT)
