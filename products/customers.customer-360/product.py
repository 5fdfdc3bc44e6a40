"""customers.customer-360: the domain logic. Who each customer is across the subscription system and
customer care's CRM: their records as each system holds them, matched by a trained model, merged into
one golden record by the survivorship rules of survivorship.yaml, with the data stewards' decisions
on top. The matching, grouping, golden ids and stewardship are the platform's (mesh_mdm); this says
what a person's record is made of in each system and which decisions stewards can make."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mesh_mdm import (
    Changes,
    Comparable,
    DecisionRefused,
    MasterData,
    Records,
    SourceRecord,
    Survivorship,
    comparable,
    split_name,
)
from mesh_sdk import CommandRefused, Context, Inputs, UnknownCommand, Update

RULES = Survivorship.load(Path(__file__).with_name("survivorship.yaml"))
DECISIONS = ("match", "split")  # `rematch` too: train a new model and score every pair again


def customer(row: Mapping[str, Any]) -> tuple[SourceRecord, Comparable]:
    """A subscription customer: one name field, a year of birth."""
    birth = str(row["birth_year"]) if row["birth_year"] else None
    attributes = {
        "full_name": row["full_name"],
        "email": row["email"],
        "phone": row["phone"],
        "country": row["country"],
        "birth": birth,
    }
    record = SourceRecord("subscriptions", row["customer_id"], attributes, row["created_at"], row["updated_at"])
    first, last = split_name(row["full_name"])
    return record, comparable(record.key, first, last, row["email"], row["phone"], row["country"], row["birth_year"])


def contact(row: Mapping[str, Any]) -> tuple[SourceRecord, Comparable]:
    """A CRM contact: two name fields, a date of birth, a country code as the agent typed it."""
    born = row["birth_date"]
    received = {
        "full_name": f"{row['first_name']} {row['last_name']}".strip(),
        "email": row["email"],
        "phone": row["phone"],
        "country": row["country"],
        "birth": born.isoformat() if born else None,
    }
    country = row["country"].strip().upper() if row["country"] and row["country"].strip() else None
    attributes = received | {"country": country}
    record = SourceRecord("crm", row["contact_id"], attributes, row["created_at"], row["updated_at"], received)
    year = born.year if born else None
    return record, comparable(
        record.key, row["first_name"], row["last_name"], row["email"], row["phone"], row["country"], year
    )


class Derivation:
    def __init__(self, context: Context) -> None:
        self.hub = MasterData(context.state, RULES, anchor_id="customer_id")

    def refresh(self, inputs: Inputs) -> dict[str, Update]:
        return self._updates(self.hub.refresh(*self._records(inputs), inputs.now))

    def command(self, name: str, arguments: Mapping[str, Any], inputs: Inputs) -> dict[str, Update]:
        """A data steward's decision (`match` or `split` a pair: `anchor` subscriptions:<id>, `record`
        crm:<id>, `steward`, `reason`), or `rematch`."""
        customers, contacts = self._records(inputs)
        if name == "rematch":
            return self._updates(self.hub.refresh(customers, contacts, inputs.now, rematch=True))
        if name not in DECISIONS:
            raise UnknownCommand(f"no command {name!r}: {', '.join(DECISIONS)} or rematch")
        try:
            changes = self.hub.decide(
                name,
                str(arguments.get("anchor", "")),
                str(arguments.get("record", "")),
                str(arguments.get("steward", "")),
                str(arguments.get("reason", "")),
                customers,
                contacts,
                inputs.now,
            )
        except DecisionRefused as exc:
            raise CommandRefused(str(exc)) from None
        return self._updates(changes)

    def describe(self) -> dict[str, Any]:
        return {"master_data": self.hub.describe()}

    @staticmethod
    def _records(inputs: Inputs) -> tuple[Records, Records]:
        made = [customer(r) for r in inputs.table("customers").to_pylist()]
        typed = [contact(r) for r in inputs.table("contacts").to_pylist()]
        return (
            Records("subscriptions", [r for r, _ in made], [c for _, c in made]),
            Records("crm", [r for r, _ in typed], [c for _, c in typed]),
        )

    @staticmethod
    def _updates(changes: Changes) -> dict[str, Update]:
        return {table: Update.upsert(rows, changes.deleted[table]) for table, rows in changes.rows.items()}
