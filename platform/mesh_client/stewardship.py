"""A data steward at work on customer-360: the review queue read with the steward's own key (audited, and
masked unless their grant includes PII), and decisions sent to the product's control port under their
name. Only a steward who can see the people decides about them: a decision is refused when the pair
reads masked. `mesh mdm` and the labs go through it."""

from __future__ import annotations

from typing import Any

import httpx

from mesh_client.consumer import ClientError, MeshConsumer

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


def record_key(given: str, system: str) -> str:
    """`42` or `subscriptions:42` -> `subscriptions:42` (for the anchors' system; likewise for the CRM)."""
    if ":" not in given:
        return f"{system}:{given}"
    if not given.startswith(f"{system}:"):
        raise ValueError(f"{given!r} is not a {system} record: give {system}:<id> or the id alone")
    return given


class Steward:
    def __init__(self, consumer: MeshConsumer) -> None:
        self.consumer = consumer

    def queue(self, limit: int = 20) -> list[dict[str, Any]]:
        """The pairs waiting for a decision, the likeliest first, both records side by side."""
        columns, rows = self.consumer.sql(PRODUCT, QUEUE.format(limit=int(limit)))
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def record(self, key: str) -> dict[str, Any] | None:
        """A source record as the cross-reference holds it (its golden id, band, rule), or None."""
        source, _, source_id = key.partition(":")
        columns, rows = self.consumer.sql(
            PRODUCT, f"SELECT * FROM {XREF} WHERE source = '{_quoted(source)}' AND source_id = '{_quoted(source_id)}'"
        )
        return dict(zip(columns, rows[0], strict=True)) if rows else None

    def decide(self, action: str, anchor: str, record: str, reason: str) -> dict[str, Any]:
        """Match or split a pair under the steward's name; returns the record as the product now holds it."""
        pair = {"anchor": record_key(anchor, ANCHORS), "record": record_key(record, RECORDS)}
        for key in pair.values():
            seen = self.record(key)
            if seen is None:
                raise ClientError(f"{PRODUCT} has no record {key}")
            if seen["full_name"] == MASKED:
                raise ClientError(
                    f"{key} reads masked to you: a steward decides about people they can see. Ask: {ASK_FOR_PII}"
                )
        self.command(action, pair | {"steward": self.consumer.consumer, "reason": reason})
        now = self.record(pair["record"])
        assert now is not None
        return now

    def rematch(self) -> dict[str, Any]:
        return self.command("rematch", {"steward": self.consumer.consumer})

    def command(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A command on the product's control port, with the platform's token for it."""
        from mesh_stack.products import control_token

        base = self.consumer.product(PRODUCT).base
        try:
            token = control_token(self.consumer.settings, PRODUCT)
        except FileNotFoundError as exc:
            raise ClientError(str(exc)) from None
        try:
            answer = httpx.post(
                f"{base}/control/commands/{name}",
                json=arguments,
                headers={"Authorization": f"Bearer {token}"},
                timeout=300,
            )
        except httpx.HTTPError as exc:
            raise ClientError(f"{PRODUCT} does not answer at {base} ({exc}): is it running (`mesh status`)?") from None
        if answer.status_code >= 400:
            try:
                detail = answer.json().get("detail", answer.text)
            except ValueError:
                detail = answer.text
            raise ClientError(f"{PRODUCT} refused {name}: {detail}")
        done: dict[str, Any] = answer.json()
        return done


def _quoted(text: str) -> str:
    return text.replace("'", "''")
