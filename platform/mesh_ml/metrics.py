"""Ranking metrics for top-k recommendations.

Averages run over the customers with at least one relevant title, and only over them: a customer with
nothing relevant cannot score a hit whatever the model does, so counting them would only scale every
model's number down by the same factor. A customer in `relevant` with no entry in `recommended` counts
as an empty list (zero hits), so a model that skips customers pays for it."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence


def _scored(relevant: Mapping[int, Collection[int]], k: int) -> dict[int, Collection[int]]:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    scored = {customer: titles for customer, titles in relevant.items() if titles}
    if not scored:
        raise ValueError("no customer has a relevant title: the metric is undefined")
    return scored


def _hits(recommended: Sequence[int], relevant: Collection[int], k: int) -> int:
    return len(set(recommended[:k]) & set(relevant))


def precision_at_k(recommended: Mapping[int, Sequence[int]], relevant: Mapping[int, Collection[int]], k: int) -> float:
    """Mean over customers with a relevant title of |top-k ∩ relevant| / k.

    The denominator is k even when fewer than k titles were recommended: an empty slot is a miss."""
    scored = _scored(relevant, k)
    return sum(_hits(recommended.get(c, ()), titles, k) / k for c, titles in scored.items()) / len(scored)


def recall_at_k(recommended: Mapping[int, Sequence[int]], relevant: Mapping[int, Collection[int]], k: int) -> float:
    """Mean over customers with a relevant title of |top-k ∩ relevant| / |relevant|."""
    scored = _scored(relevant, k)
    return sum(_hits(recommended.get(c, ()), titles, k) / len(titles) for c, titles in scored.items()) / len(scored)


def coverage(recommended: Mapping[int, Sequence[int]], catalogue: Collection[int], k: int) -> float:
    """Share of the catalogue that appears in at least one customer's top-k: 1.0 means every title is
    recommended to someone, a popularity list covers only about k titles. Titles outside the catalogue
    are ignored."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not catalogue:
        raise ValueError("the catalogue is empty: coverage is undefined")
    shown = {title for titles in recommended.values() for title in titles[:k]}
    return len(shown & set(catalogue)) / len(set(catalogue))
