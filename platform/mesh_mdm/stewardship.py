"""A data steward's work on customer-360, whatever carries it (the command line's client, the catalog's
portal): the review queue and a record read with the steward's own key, so they are audited and masked
unless the grant includes PII; a decision refused while a record of the pair reads masked (a steward
decides about people they can see); decisions sent as the product's commands under the steward's name.

How a query reaches the product's SQL port and how a command reaches its control port is given to the
desk: it holds the rules, not the wires."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

PRODUCT = "customers.customer-360"
ANCHORS, RECORDS = "subscriptions", "crm"  # the systems: each golden record's anchor, and the others
XREF = "customers.customer_360_xref_v1"
QUEUE = f"""
SELECT r.anchor, r.record, round(r.match_probability, 3) AS p,
       a.full_name AS customer_name, c.full_name AS contact_name,
       a.email AS customer_email, c.email AS contact_email,
       a.phone AS customer_phone, c.phone AS contact_phone,
       a.birth AS customer_birth, c.birth AS contact_birth
FROM customers.customer_360_reviews_v1 r
JOIN {XREF} a ON a.source || ':' || a.source_id = r.anchor
JOIN {XREF} c ON c.source || ':' || c.source_id = r.record
ORDER BY r.match_probability DESC, r.record
LIMIT {{limit}}
"""
MASKED = "***"
ASK_FOR_PII = f"mesh access request {PRODUCT} --pii --purpose 'data stewardship'"
DECISIONS = ("match", "split")

Sql = Callable[[str], tuple[Sequence[str], Sequence[Sequence[Any]]]]  # a query -> (columns, rows)
Command = Callable[[str, dict[str, Any]], dict[str, Any]]  # a command's name and arguments -> its answer


class StewardshipRefused(Exception):
    """A decision the rules refuse; the message says why and what to do."""


def record_key(given: str, system: str) -> str:
    """`42` or `subscriptions:42` -> `subscriptions:42` (for the anchors' system; likewise for the CRM)."""
    if ":" not in given:
        return f"{system}:{given}"
    if not given.startswith(f"{system}:"):
        raise ValueError(f"{given!r} is not a {system} record: give {system}:<id> or the id alone")
    return given


class StewardDesk:
    def __init__(self, steward: str, sql: Sql, command: Command) -> None:
        self.steward = steward
        self._sql = sql
        self._command = command

    def queue(self, limit: int = 20) -> list[dict[str, Any]]:
        """The pairs waiting for a decision, the likeliest first, both records side by side."""
        columns, rows = self._sql(QUEUE.format(limit=int(limit)))
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def record(self, key: str) -> dict[str, Any] | None:
        """A source record as the cross-reference holds it (its golden id, band, rule), or None."""
        source, _, source_id = key.partition(":")
        columns, rows = self._sql(
            f"SELECT * FROM {XREF} WHERE source = '{_quoted(source)}' AND source_id = '{_quoted(source_id)}'"
        )
        return dict(zip(columns, rows[0], strict=True)) if rows else None

    def decide(self, action: str, anchor: str, record: str, reason: str) -> dict[str, Any]:
        """Match or split a pair under the steward's name; returns the record as the product now holds it."""
        if action not in DECISIONS:
            raise StewardshipRefused(f"a steward decides {' or '.join(DECISIONS)}, not {action!r}")
        try:
            pair = {"anchor": record_key(anchor, ANCHORS), "record": record_key(record, RECORDS)}
        except ValueError as exc:
            raise StewardshipRefused(str(exc)) from None
        for key in pair.values():
            seen = self.record(key)
            if seen is None:
                raise StewardshipRefused(f"{PRODUCT} has no record {key}")
            if seen["full_name"] == MASKED:
                raise StewardshipRefused(
                    f"{key} reads masked to you: a steward decides about people they can see. Ask: {ASK_FOR_PII}"
                )
        self._command(action, pair | {"steward": self.steward, "reason": reason})
        now = self.record(pair["record"])
        assert now is not None
        return now

    def rematch(self) -> dict[str, Any]:
        return self._command("rematch", {"steward": self.steward})


def _quoted(text: str) -> str:
    return text.replace("'", "''")
