"""A data steward at work on customer-360 from the command line (`mesh mdm`, the labs): the desk of
mesh_mdm.stewardship, its queries on the product's SQL port with the steward's own key, its decisions
on the product's control port with the platform's token for it."""

from __future__ import annotations

from typing import Any

from mesh_client.consumer import ClientError, MeshConsumer
from mesh_mdm.stewardship import (
    ANCHORS,
    ASK_FOR_PII,
    MASKED,
    PRODUCT,
    RECORDS,
    XREF,
    StewardDesk,
    StewardshipRefused,
    record_key,
)

__all__ = ["ANCHORS", "ASK_FOR_PII", "MASKED", "PRODUCT", "RECORDS", "XREF", "Steward", "record_key"]


class Steward:
    def __init__(self, consumer: MeshConsumer) -> None:
        self.consumer = consumer
        self.desk = StewardDesk(consumer.consumer, lambda query: consumer.sql(PRODUCT, query), self.command)

    def queue(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.desk.queue(limit)

    def record(self, key: str) -> dict[str, Any] | None:
        return self.desk.record(key)

    def decide(self, action: str, anchor: str, record: str, reason: str) -> dict[str, Any]:
        try:
            return self.desk.decide(action, anchor, record, reason)
        except StewardshipRefused as exc:
            raise ClientError(str(exc)) from None

    def rematch(self) -> dict[str, Any]:
        return self.desk.rematch()

    def command(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A command on the product's control port, with the platform's token for it."""
        from mesh_stack.products import ControlRefused, control_command, control_token

        base = self.consumer.product(PRODUCT).base
        try:
            return control_command(base, control_token(self.consumer.settings, PRODUCT), name, arguments)
        except (FileNotFoundError, ControlRefused) as exc:
            raise ClientError(f"{PRODUCT}: {exc}") from None
