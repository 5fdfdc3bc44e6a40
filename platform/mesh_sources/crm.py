"""The customer-care team's CRM: its schema, its starting contacts (the monolith's people as customer
care typed them) and a workload of what agents and web forms do to them, for Debezium to capture.

`install_crm` is idempotent (the data is seeded only into an empty database). The generator's truth,
which contact is which customer, is written beside every contact in the `evaluation` schema, in the
same transaction, and is never captured."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import psycopg
from psycopg.rows import TupleRow

from mesh_generate.playback_sessions import WORLD_SEED
from mesh_sources import db, people
from mesh_sources.crm_seed import (
    CONTACT_COLUMNS,
    PEOPLE_COLUMNS,
    Contact,
    Person,
    crm_seed,
    prospect,
    typed_contact,
    typed_email,
    typed_name,
    typed_phone,
)
from mesh_sources.db import Closing, SeedReport, SourceUnavailable, copy_rows

__all__ = ["CrmWorkload", "install_crm", "legacy_people"]

SCHEMA_FILE = "crm.sql"
CONTACT_IDS = "crm_contact_ids"
_SEED_LOCK = 0x63726D00  # advisory lock: two installs at once seed once
# What agents and web forms do, by weight.
OPERATIONS = {"edit": 0.55, "second_contact": 0.15, "prospect": 0.15, "erase": 0.15}


def legacy_people(legacy_dsn: str) -> list[Person]:
    """The monolith's current customers: the people the CRM's contacts are typed from."""
    columns = ", ".join(PEOPLE_COLUMNS)
    with db.connect(legacy_dsn) as conn:
        try:
            rows = conn.execute(f"SELECT {columns} FROM customers ORDER BY customer_id").fetchall()
        except psycopg.errors.UndefinedTable:
            raise SourceUnavailable(
                f"the CRM's contacts are typed from the monolith's customers, and {db.describe(legacy_dsn)} has "
                "none yet: start the monolith first (mesh cdc start legacy)"
            ) from None
    return [Person.of(row) for row in rows]


def install_crm(dsn: str, legacy_dsn: str, seed: int = WORLD_SEED) -> SeedReport:
    """Apply crm.sql, then seed the contacts of the monolith's customers (and prospects) with their
    truth, unless `contacts` already has rows. One transaction."""
    people = legacy_people(legacy_dsn)
    with db.connect(dsn) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK,))
        db.apply_schema(conn, SCHEMA_FILE)
        report = SeedReport(seeded=False)
        already = conn.execute("SELECT EXISTS (SELECT 1 FROM contacts)").fetchone()
        if not (already and already[0]):
            seeded = crm_seed(people, dt.datetime.now(dt.UTC), seed)
            copy_rows(conn, "contacts", CONTACT_COLUMNS, [c.row() for c in seeded.contacts])
            copy_rows(conn, "evaluation.contact_truth", ("contact_id", "customer_id"), list(seeded.truth.items()))
            report = SeedReport(seeded=True, rows={"contacts": len(seeded.contacts)})
        db.ensure_id_sequence(conn, CONTACT_IDS, "contacts", "contact_id")
    return report


class CrmWorkload(Closing):
    """One agent's or web form's change to the CRM per `step()`, with the truth kept beside it."""

    def __init__(self, conn: psycopg.Connection[TupleRow], people: Sequence[Person], *, seed: int) -> None:
        self.conn = conn
        self.people = {p.customer_id: p for p in people}
        self.rng = random.Random(f"crm-workload:{seed}")
        self.counts: Counter[str] = Counter()

    @classmethod
    def connect(cls, dsn: str, legacy_dsn: str, *, seed: int) -> CrmWorkload:
        return cls(db.connect(dsn), legacy_people(legacy_dsn), seed=seed)

    def step(self) -> int:
        """Commit one change; returns the contacts it changed (1)."""
        operation = self.rng.choices(list(OPERATIONS), weights=list(OPERATIONS.values()))[0]
        with self.conn.transaction():
            done = getattr(self, f"_{operation}")()
        self.counts[operation if done else "skipped"] += 1
        return 1 if done else 0

    def _edit(self) -> bool:
        picked = self._some_contact()
        if picked is None:
            return False
        contact_id, customer_id = picked
        person = self.people.get(customer_id) if customer_id is not None else None
        now = dt.datetime.now(dt.UTC)
        what = self.rng.choice(("email", "phone", "name"))
        if what == "email":
            email = typed_email(self.rng, person.email) if person else prospect(self.rng).email
            self.conn.execute(
                "UPDATE contacts SET email = %s, updated_at = %s WHERE contact_id = %s", (email, now, contact_id)
            )
        elif what == "phone":
            country = person.country if person else None
            phone = typed_phone(self.rng, people.phone(self.rng, country), country)
            self.conn.execute(
                "UPDATE contacts SET phone = %s, updated_at = %s WHERE contact_id = %s", (phone, now, contact_id)
            )
        else:
            name = person.full_name if person else prospect(self.rng).full_name
            first, last = typed_name(self.rng, name)
            self.conn.execute(
                "UPDATE contacts SET first_name = %s, last_name = %s, updated_at = %s WHERE contact_id = %s",
                (first, last, now, contact_id),
            )
        return True

    def _second_contact(self) -> bool:
        if not self.people:
            return False
        person = self.rng.choice(list(self.people.values()))
        number = person.phone or people.phone(self.rng, person.country)
        return self._insert(typed_contact(self.rng, person, number, _now()), person)

    def _prospect(self) -> bool:
        someone = prospect(self.rng)
        return self._insert(typed_contact(self.rng, someone, people.phone(self.rng, someone.country), _now()), None)

    def _erase(self) -> bool:
        picked = self._some_contact()
        if picked is None:
            return False
        self.conn.execute("DELETE FROM contacts WHERE contact_id = %s", (picked[0],))
        self.conn.execute("DELETE FROM evaluation.contact_truth WHERE contact_id = %s", (picked[0],))
        return True

    def _insert(self, contact: Contact, person: Person | None) -> bool:
        row = self.conn.execute("SELECT nextval(%s)", (CONTACT_IDS,)).fetchone()
        assert row is not None
        now = _now()
        contact = replace(contact, contact_id=int(row[0]), created_at=now, updated_at=now)
        columns = ", ".join(CONTACT_COLUMNS)
        self.conn.execute(
            f"INSERT INTO contacts ({columns}) VALUES ({', '.join(['%s'] * len(CONTACT_COLUMNS))})", contact.row()
        )
        self.conn.execute(
            "INSERT INTO evaluation.contact_truth (contact_id, customer_id) VALUES (%s, %s)",
            (contact.contact_id, person.customer_id if person else None),
        )
        return True

    def _some_contact(self) -> tuple[int, int | None] | None:
        row = self.conn.execute(
            "SELECT c.contact_id, t.customer_id FROM contacts c LEFT JOIN evaluation.contact_truth t "
            "USING (contact_id) ORDER BY random() LIMIT 1"
        ).fetchone()
        return (int(row[0]), row[1]) if row is not None else None

    def close(self) -> None:
        self.conn.close()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
