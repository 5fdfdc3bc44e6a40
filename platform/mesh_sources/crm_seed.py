"""The CRM's starting contacts: the people the legacy monolith bills, as the customer-care team typed
them, and people it knows who never subscribed. Pure and deterministic for the people and a seed, so
tests check it without a database.

How people are typed, each with its own share: names in other cases, without their accents, with a
typo, last name first, or the first name as an initial; e-mail addresses with dots or a `+tag` in the
local part, in capitals, or another mailbox altogether; phone numbers in a country's several formats
(the same digits behind every contact of one person); countries in lower case or missing; birth dates
mostly missing. Some customers have two contacts, some none. The truth (which contact is which
customer) is returned apart, for evaluating a matcher only."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from mesh_sources import people
from mesh_sources.legacy_seed import CUSTOMER_COLUMNS

CONTACT_COLUMNS = (
    "contact_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "country",
    "birth_date",
    "created_at",
    "updated_at",
)
PEOPLE_COLUMNS = ("customer_id", "full_name", "email", "phone", "country", "birth_year")  # of the monolith
FIRST_CONTACT_ID = 700_001  # the CRM's own ids: nothing like the monolith's customer ids
TWO_CONTACTS_SHARE = 0.08  # customers the CRM knows twice (a second contact typed by another agent)
UNKNOWN_SHARE = 0.14  # customers who never contacted customer care
PROSPECTS_SHARE = 0.15  # people the CRM knows who never subscribed, per customer of the monolith
SAME_PHONE_SHARE = 0.8  # customers who gave customer care the number the monolith has
HISTORY_DAYS = 3 * 365

_EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "post.example")


@dataclass(frozen=True, slots=True)
class Person:
    """A customer of the monolith, as the CRM's generator sees it."""

    customer_id: int
    full_name: str
    email: str
    phone: str | None
    country: str
    birth_year: int | None

    @classmethod
    def of(cls, customer: Sequence[object]) -> Person:
        """From a row of the monolith's `customers` in the order of `PEOPLE_COLUMNS`."""
        customer_id, full_name, email, phone, country, birth_year = customer
        year = int(str(birth_year)) if birth_year is not None else None
        number = str(phone) if phone is not None else None
        return cls(int(str(customer_id)), str(full_name), str(email), number, str(country), year)


def seeded_people(customers: Iterable[Sequence[object]]) -> list[Person]:
    """The people of the monolith's seed (`legacy_seed(...).customers`, rows in `CUSTOMER_COLUMNS`)."""
    at = [CUSTOMER_COLUMNS.index(c) for c in PEOPLE_COLUMNS]
    return [Person.of([row[i] for i in at]) for row in customers]


@dataclass(frozen=True, slots=True)
class Contact:
    contact_id: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    country: str | None
    birth_date: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime

    def row(self) -> tuple[object, ...]:
        return tuple(getattr(self, column) for column in CONTACT_COLUMNS)


@dataclass(frozen=True)
class CrmSeed:
    contacts: list[Contact]
    truth: dict[int, int | None]  # contact id -> the customer it is (None: never subscribed)


def crm_seed(customers: Sequence[Person], now: dt.datetime, seed: int) -> CrmSeed:
    rng = random.Random(f"crm:{seed}")
    typed: list[tuple[Contact, int | None]] = []
    for person in customers:
        draw = rng.random()
        if draw < UNKNOWN_SHARE:
            continue
        same = person.phone is not None and rng.random() < SAME_PHONE_SHARE
        phone = person.phone if same and person.phone else people.phone(rng, person.country)
        for _ in range(2 if draw < UNKNOWN_SHARE + TWO_CONTACTS_SHARE else 1):
            typed.append((typed_contact(rng, person, phone, now), person.customer_id))
    for _ in range(round(len(customers) * PROSPECTS_SHARE)):
        someone = prospect(rng)
        typed.append((typed_contact(rng, someone, people.phone(rng, someone.country), now), None))
    rng.shuffle(typed)  # the CRM's ids follow no order of the monolith's
    contacts, truth = [], {}
    for i, (contact, customer_id) in enumerate(typed):
        numbered = replace(contact, contact_id=FIRST_CONTACT_ID + i)
        contacts.append(numbered)
        truth[numbered.contact_id] = customer_id
    return CrmSeed(contacts, truth)


def prospect(rng: random.Random) -> Person:
    """Someone who asked customer care a question and never subscribed."""
    country = rng.choice(list(people.CALLING_CODES))
    name = people.full_name(rng, country)
    first, _, last = name.partition(" ")
    plain_first, plain_last = (people.without_accents(n).lower().replace(" ", "") for n in (first, last))
    local = f"{plain_first}.{plain_last}{rng.randint(1, 999)}"
    email = f"{local}@{rng.choice(_EMAIL_DOMAINS)}"
    return Person(0, name, email, people.phone(rng, country), country, people.birth_year(rng))


def typed_contact(rng: random.Random, person: Person, phone: str, now: dt.datetime) -> Contact:
    """One contact of `person`, typed as an agent or a web form would (contact id still 0)."""
    first, last = typed_name(rng, person.full_name)
    created = now - dt.timedelta(days=rng.uniform(0, HISTORY_DAYS))
    edited = created + (now - created) * rng.random() if rng.random() < 0.3 else created
    return Contact(
        0,
        first,
        last,
        typed_email(rng, person.email),
        typed_phone(rng, phone, person.country) if rng.random() < 0.85 else None,
        typed_country(rng, person.country),
        typed_birth_date(rng, person.birth_year),
        created,
        edited,
    )


def typed_name(rng: random.Random, full_name: str) -> tuple[str, str]:
    """(first name, last name) as typed: case, accents, a typo, swapped fields, an initial."""
    first, _, last = full_name.partition(" ")
    draw = rng.random()
    if draw < 0.10:
        first, last = first.upper(), last.upper()
    elif draw < 0.20:
        first, last = first.lower(), last.lower()
    if rng.random() < 0.15:
        first, last = people.without_accents(first), people.without_accents(last)
    if rng.random() < 0.12:
        last = typo(rng, last)
    elif rng.random() < 0.08:
        first = typo(rng, first)
    if rng.random() < 0.06:
        first = f"{first[0]}."
    if rng.random() < 0.04:
        first, last = last, first  # typed into the wrong boxes
    return first, last


def typo(rng: random.Random, word: str) -> str:
    """One slip of the fingers: two letters swapped, one dropped or one doubled."""
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def typed_email(rng: random.Random, email: str) -> str | None:
    """The same mailbox written differently (dots, a +tag, capitals), another mailbox, or none."""
    draw = rng.random()
    if draw < 0.06:
        return None
    local, _, domain = email.partition("@")
    if draw < 0.14:
        letters = "".join(c for c in local if c.isalpha())[:6] or "me"
        return f"{letters}.{rng.randint(10, 99)}@{rng.choice(_EMAIL_DOMAINS)}"  # another mailbox of theirs
    if rng.random() < 0.15 and "." not in local:
        cut = rng.randrange(1, len(local))
        local = f"{local[:cut]}.{local[cut:]}"
    if rng.random() < 0.12:
        local = f"{local}+{rng.choice(('tv', 'streamline', 'newsletter', 'support'))}"
    typed = f"{local}@{domain}"
    return typed.upper() if rng.random() < 0.05 else typed.capitalize() if rng.random() < 0.08 else typed


def typed_phone(rng: random.Random, number: str, country: str | None) -> str:
    """An international number (`+<code><digits>`) in one of the formats people write it in."""
    digits = number.lstrip("+")
    code = people.CALLING_CODES.get(country or "", "")
    national = digits[len(code) :] if code and digits.startswith(code) else digits
    style = rng.randrange(5)
    if style == 0:
        return f"+{digits}"
    if style == 1:
        return f"00{digits}"
    if style == 2:
        return f"0{national[:3]} {national[3:6]} {national[6:]}"
    if style == 3:
        return f"+{code} ({national[:3]}) {national[3:6]}-{national[6:]}" if code else f"+{digits}"
    return f"0{national[:3]}-{national[3:]}"


def typed_country(rng: random.Random, country: str) -> str | None:
    draw = rng.random()
    if draw < 0.05:
        return None
    return country.lower() if draw < 0.12 else country


def typed_birth_date(rng: random.Random, birth_year: int | None) -> dt.date | None:
    """Most contacts have none; those that do have the right year."""
    if birth_year is None or rng.random() < 0.6:
        return None
    return dt.date(birth_year, 1, 1) + dt.timedelta(days=rng.randrange(365))
