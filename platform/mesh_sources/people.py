"""Fake but plausible people: names that fit each customer's country and e-mail addresses derived from
them. Built in (Faker is not a dependency), deterministic from the caller's RNG.

Every address embeds the customer id after the letters of the name, so two customers can never be
given the same address and the UNIQUE constraint on `customers.email` never fails a seed or a workload
transaction, whatever names the RNG draws."""

from __future__ import annotations

import random
import re
import unicodedata

# A few common first and last names per country of `playback_sessions.COUNTRY_WEIGHTS`.
_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "US": (
        ("James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "Maria", "Kevin", "Ashley"),
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Lopez", "Wilson", "Moore"),
    ),
    "GB": (
        ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily", "Noah", "Sophie", "Charlotte"),
        ("Taylor", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Edwards", "Green", "Hall", "Wood"),
    ),
    "DE": (
        ("Lukas", "Anna", "Jonas", "Lea", "Felix", "Hannah", "Maximilian", "Sophie", "Paul", "Marie", "Jürgen"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schäfer"),
    ),
    "FR": (
        ("Gabriel", "Louise", "Léo", "Chloé", "Hugo", "Camille", "Lucas", "Manon", "Jules", "Inès", "Étienne"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"),
    ),
    "BR": (
        ("João", "Ana", "Pedro", "Beatriz", "Lucas", "Juliana", "Gabriel", "Larissa", "Rafael", "Camila"),
        ("Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Rodrigues", "Almeida", "Nascimento", "Lima"),
    ),
    "IN": (
        ("Aarav", "Ananya", "Vihaan", "Diya", "Arjun", "Priya", "Rohan", "Kavya", "Ishaan", "Meera", "Rahul"),
        ("Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Das", "Mehta", "Joshi"),
    ),
    "NL": (
        ("Daan", "Emma", "Sem", "Julia", "Lucas", "Mila", "Finn", "Tess", "Bram", "Sanne", "Jesse"),
        ("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder"),
    ),
    "JP": (
        ("Haruto", "Yui", "Sota", "Hina", "Yuto", "Aoi", "Ren", "Sakura", "Riku", "Mei", "Kenji"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato"),
    ),
}
_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "post.example")


def full_name(rng: random.Random, country: str) -> str:
    """A first and last name common in `country` (US names where the country has no list)."""
    first, last = _NAMES.get(country, _NAMES["US"])
    return f"{rng.choice(first)} {rng.choice(last)}"


def married_name(rng: random.Random, name: str, country: str) -> str:
    """The same first name with another last name from the country: the usual reason a name changes."""
    first = name.split(" ", 1)[0]
    return f"{first} {rng.choice(_NAMES.get(country, _NAMES['US'])[1])}"


def _letters(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


def email_template(rng: random.Random, name: str) -> str:
    """An address with `{}` where the customer id goes, like `anna.schmidt{}@example.net`: a sign-up
    draws it before the database hands out the id."""
    first, _, last = name.partition(" ")
    a, b = _letters(first) or "user", _letters(last) or "x"
    local = rng.choice((f"{a}.{b}", f"{a}{b}", f"{a[0]}{b}", f"{a}_{b}", f"{b}.{a}"))
    return f"{local}{{}}@{rng.choice(_DOMAINS)}"


def email(rng: random.Random, name: str, customer_id: int) -> str:
    """An address like `anna.schmidt4821@example.net`: letters of the name, then the customer id.

    Letters never contain digits, so the id is recoverable from any address and no two customers share
    one, whichever pattern or domain is drawn."""
    return email_template(rng, name).format(customer_id)


def birth_year(rng: random.Random) -> int:
    """Adults, most of them born between the mid-seventies and 2000."""
    return round(rng.triangular(1945, 2007, 1990))
