"""Matching the monolith's customers with the CRM's contacts, on the generators' own data, against the
truth the CRM generator kept: Splink's model reaches the quality customer-360 promises."""

from __future__ import annotations

import datetime as dt
from functools import cache

from mesh_mdm.evaluation import Quality, quality
from mesh_mdm.matching import Band, Matcher, band_of
from mesh_mdm.normalise import comparable, mailbox, phone_key, split_name
from mesh_sources.crm_seed import crm_seed, seeded_people
from mesh_sources.legacy_seed import legacy_seed

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
CUSTOMERS = 3_000


def test_normalising_removes_what_typing_varies() -> None:
    assert mailbox("Anna.Schmidt+tv@Example.NET") == "annaschmidt@example.net"
    assert phone_key("+49 (151) 234-5678") == phone_key("0049151 2345678") == "512345678"
    one = comparable("a", "ÉTIENNE", "Dubois", None, None, "fr", None)
    other = comparable("b", "dubois", "étienne", None, None, "FR", None)
    assert one.name_key == other.name_key == "dubois etienne" and one.country == "FR"
    assert split_name("Vitor de Souza") == ("Vitor", "de Souza")


def test_bands() -> None:
    assert [band_of(p) for p in (0.99, 0.95, 0.7, 0.5, 0.2)] == [
        Band.MATCH,
        Band.MATCH,
        Band.REVIEW,
        Band.REVIEW,
        Band.NO_MATCH,
    ]


@cache
def matched() -> Quality:
    rows = legacy_seed(CUSTOMERS, NOW, seed=11).customers
    people = seeded_people(rows)
    crm = crm_seed(people, NOW, seed=11)
    left = [
        comparable(f"c{p.customer_id}", *split_name(p.full_name), p.email, p.phone, p.country, p.birth_year)
        for p in people
    ]
    right = [
        comparable(
            f"k{c.contact_id}",
            c.first_name,
            c.last_name,
            c.email,
            c.phone,
            c.country,
            c.birth_date.year if c.birth_date else None,
        )
        for c in crm.contacts
    ]
    matcher = Matcher(left, right)
    try:
        candidates = matcher.candidates()
    finally:
        matcher.close()
    truth = {f"k{k}": (f"c{c}" if c is not None else None) for k, c in crm.truth.items()}
    return quality(candidates, truth, len(right))


def test_the_matching_reaches_f1_095_with_under_5_percent_in_review() -> None:
    q = matched()
    assert q.f1 >= 0.95, q
    assert q.review_share < 0.05, q
    assert q.precision >= 0.97, q
