"""The CRM's starting contacts: the monolith's people as customer care typed them, with the truth kept
apart. Pure: the legacy seed's customers go in, no database."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from functools import cache

from mesh_sources.crm_seed import (
    FIRST_CONTACT_ID,
    PROSPECTS_SHARE,
    Contact,
    CrmSeed,
    Person,
    crm_seed,
    seeded_people,
)
from mesh_sources.legacy_seed import legacy_seed
from mesh_sources.people import without_accents

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
CUSTOMERS = 2_000


@cache
def people() -> tuple[Person, ...]:
    rows = legacy_seed(CUSTOMERS, NOW, seed=7).customers
    return tuple(seeded_people(rows))


@cache
def seeded() -> CrmSeed:
    return crm_seed(people(), NOW, seed=7)


def _folded(text: str) -> str:
    return without_accents(text).lower()


def _mailbox(email: str) -> str:
    local, _, domain = email.lower().partition("@")
    return local.split("+", 1)[0].replace(".", "") + "@" + domain


def test_the_same_seed_gives_the_same_contacts_and_another_seed_others() -> None:
    assert crm_seed(people(), NOW, seed=7) == seeded()
    assert crm_seed(people(), NOW, seed=8).contacts != seeded().contacts


def test_most_customers_have_one_contact_some_two_some_none_and_prospects_are_known_too() -> None:
    truth = seeded().truth
    per_customer = Counter(c for c in truth.values() if c is not None)
    known = len(per_customer)
    assert 0.80 * CUSTOMERS < known < 0.92 * CUSTOMERS  # UNKNOWN_SHARE of them never called
    twice = sum(1 for n in per_customer.values() if n == 2)
    assert 0.05 * CUSTOMERS < twice < 0.11 * CUSTOMERS
    assert max(per_customer.values()) == 2
    assert sum(1 for c in truth.values() if c is None) == round(CUSTOMERS * PROSPECTS_SHARE)


def test_contact_ids_are_the_crms_own_and_the_truth_covers_every_contact() -> None:
    contacts = seeded().contacts
    ids = [c.contact_id for c in contacts]
    assert sorted(ids) == list(range(FIRST_CONTACT_ID, FIRST_CONTACT_ID + len(contacts)))
    assert set(seeded().truth) == set(ids)
    # Shuffled: the CRM's order says nothing about the monolith's customer ids.
    first = [t for i in ids[:50] if (t := seeded().truth[i]) is not None]
    assert first != sorted(first)


def test_people_are_typed_in_every_way_the_generator_promises() -> None:
    by_id = {p.customer_id: p for p in people()}
    typed = [(c, by_id[t]) for c in seeded().contacts if (t := seeded().truth[c.contact_id]) is not None]
    n = len(typed)

    def share(test: Callable[[Contact, Person], bool]) -> float:
        return sum(1 for c, p in typed if test(c, p)) / n

    assert share(lambda c, p: f"{c.first_name} {c.last_name}" == p.full_name) > 0.5  # most typed as they are
    assert share(lambda c, p: c.first_name.isupper() and len(c.first_name) > 2) > 0.05  # capitals
    assert share(lambda c, p: _folded(c.last_name) not in _folded(p.full_name)) > 0.05  # a typo, or swapped boxes
    assert share(lambda c, p: c.first_name.endswith(".")) > 0.02  # an initial
    assert share(lambda c, p: c.email is not None and "+" in c.email) > 0.05
    assert share(lambda c, p: c.email is None) > 0.02
    assert share(lambda c, p: c.email is not None and _mailbox(c.email) != _mailbox(p.email)) > 0.04  # another box
    assert share(lambda c, p: c.email is not None and _mailbox(c.email) == _mailbox(p.email)) > 0.75
    assert share(lambda c, p: c.birth_date is None) > 0.5
    assert all(c.birth_date.year == p.birth_year for c, p in typed if c.birth_date is not None)
    assert share(lambda c, p: c.country is None or c.country != p.country) > 0.05


def test_every_contact_of_one_person_has_the_same_phone_digits_in_whatever_format() -> None:
    digits: dict[int, set[str]] = {}
    formats = set()
    for c in seeded().contacts:
        customer = seeded().truth[c.contact_id]
        if customer is None or c.phone is None:
            continue
        digits.setdefault(customer, set()).add(re.sub(r"\D", "", c.phone)[-9:])
        formats.add(re.sub(r"\d", "9", c.phone))
    assert all(len(found) == 1 for found in digits.values())
    assert len(formats) >= 5


def test_most_customers_gave_customer_care_the_number_the_monolith_has() -> None:
    by_id = {p.customer_id: p for p in people()}
    pairs = [
        (re.sub(r"\D", "", c.phone)[-9:], str(by_id[t].phone)[-9:])
        for c in seeded().contacts
        if (t := seeded().truth[c.contact_id]) is not None and c.phone is not None
    ]
    same = sum(1 for typed, kept in pairs if typed == kept) / len(pairs)
    assert 0.7 < same < 0.9  # SAME_PHONE_SHARE: the others gave another number
    assert all(p.phone is not None and re.fullmatch(r"\+\d{10,12}", p.phone) for p in people())
