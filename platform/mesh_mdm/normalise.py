"""What a person's record becomes before it is compared: names folded (case, accents, punctuation), a
key that does not care which name went in which box, the mailbox behind an address's dots and `+tag`,
the last nine digits of a phone number in whatever format it was typed. Pure."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pyarrow as pa

PHONE_DIGITS = 9  # the subscriber number: calling codes and trunk prefixes are written too many ways


@dataclass(frozen=True, slots=True)
class Comparable:
    unique_id: str
    first: str | None
    last: str | None
    name_key: str | None
    email: str | None
    email_letters: str | None
    phone: str | None
    country: str | None
    birth_year: int | None


SCHEMA = pa.schema(
    [
        ("unique_id", pa.string()),
        ("first", pa.string()),
        ("last", pa.string()),
        ("name_key", pa.string()),
        ("email", pa.string()),
        ("email_letters", pa.string()),
        ("phone", pa.string()),
        ("country", pa.string()),
        ("birth_year", pa.int64()),
    ]
)


def folded(text: str | None) -> str | None:
    """Lower case, without accents or anything but letters and single spaces."""
    if not text:
        return None
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z ]", " ", ascii_text).split()) or None


def mailbox(address: str | None) -> str | None:
    """The mailbox an address reaches: lower case, without the `+tag` or the dots of its local part."""
    if not address or "@" not in address:
        return None
    local, _, domain = address.strip().lower().partition("@")
    return f"{local.split('+', 1)[0].replace('.', '')}@{domain}"


def phone_key(number: str | None) -> str | None:
    digits = re.sub(r"\D", "", number or "")
    return digits[-PHONE_DIGITS:] if len(digits) >= PHONE_DIGITS else None


def comparable(
    unique_id: str,
    first: str | None,
    last: str | None,
    email: str | None,
    phone: str | None,
    country: str | None,
    birth_year: int | None,
) -> Comparable:
    f, last_name = folded(first), folded(last)
    box = mailbox(email)
    letters = re.sub(r"[^a-z]", "", box.split("@", 1)[0])[:6] if box else ""
    key = " ".join(sorted(f"{f or ''} {last_name or ''}".split())) or None
    return Comparable(
        unique_id,
        f,
        last_name,
        key,
        box,
        letters or None,
        phone_key(phone),
        country.strip().upper() if country and country.strip() else None,
        birth_year,
    )


def split_name(full_name: str) -> tuple[str, str]:
    """(first, last) of a name written as one field: the first word, and the rest."""
    first, _, last = full_name.strip().partition(" ")
    return first, last


def as_table(records: list[Comparable]) -> pa.Table:
    return pa.Table.from_pydict({f.name: [getattr(r, f.name) for r in records] for f in SCHEMA}, schema=SCHEMA)
