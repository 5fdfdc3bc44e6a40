"""Fake but plausible people: names that fit each customer's country (Faker's, for the country's
locale) and e-mail addresses derived from them, deterministic from the caller's RNG.

Every address embeds the customer id after the letters of the name, so two customers can never be
given the same address and the UNIQUE constraint on `customers.email` never fails a seed or a workload
transaction, whatever names the RNG draws."""

from __future__ import annotations

import random
import re
import unicodedata
from functools import cache

from faker import Factory, Generator

# The locale whose names fit each country of `playback_sessions.COUNTRY_WEIGHTS` (Faker's lists of
# each: thousands of first and last names, drawn by how common they are, so that a name says something
# about who someone is, as it does in life: a matcher of records cannot lean on a handful of names).
_LOCALES = {
    "US": "en_US",
    "GB": "en_GB",
    "DE": "de_DE",
    "FR": "fr_FR",
    "BR": "pt_BR",
    "IN": "en_IN",
    "NL": "nl_NL",
    "JP": "ja_JP",
}
_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "post.example")


def full_name(rng: random.Random, country: str) -> str:
    """A first and last name common in `country` (US names where the country has none of its own)."""
    return f"{_first_name(rng, country)} {_last_name(rng, country)}"


def married_name(rng: random.Random, name: str, country: str) -> str:
    """The same first name with another last name from the country: the usual reason a name changes."""
    first = name.split(" ", 1)[0]
    return f"{first} {_last_name(rng, country)}"


@cache
def _faker(country: str) -> Generator:
    return Factory.create(_LOCALES.get(country, "en_US"))


def _first_name(rng: random.Random, country: str) -> str:
    fake = _faker(country)
    fake.random = rng  # drawn from the caller's RNG: the same seed gives the same people
    name = fake.format("first_romanized_name" if country == "JP" else "first_name")
    return name.split(" ", 1)[0]  # one word: the rest of a double first name is left out


def _last_name(rng: random.Random, country: str) -> str:
    fake = _faker(country)
    fake.random = rng
    return fake.format("last_romanized_name" if country == "JP" else "last_name")


def without_accents(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", without_accents(text).lower())


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


CALLING_CODES = {"US": "1", "GB": "44", "DE": "49", "FR": "33", "BR": "55", "IN": "91", "NL": "31", "JP": "81"}


def phone(rng: random.Random, country: str | None) -> str:
    """A mobile number in international form, `+<calling code><nine digits>` (the code of a country
    of the mesh, or one of them drawn when the country has none)."""
    code = CALLING_CODES.get(country or "") or rng.choice(list(CALLING_CODES.values()))
    return "+" + code + "".join(str(rng.randrange(10)) for _ in range(9))


def birth_year(rng: random.Random) -> int:
    """Adults, most of them born between the mid-seventies and 2000."""
    return round(rng.triangular(1945, 2007, 1990))
