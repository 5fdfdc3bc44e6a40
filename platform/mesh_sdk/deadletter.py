"""Dead letters: input the product cannot accept, kept with the reason instead of being lost."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Defect(StrEnum):
    UNDECODABLE = "undecodable"  # not Avro in the registry's wire format
    SCHEMA_INVALID = "schema-invalid"  # Avro, but not readable with the product's input schema
    UNEXPECTED = "unexpected-event"  # readable, but not what the port consumes (another table's change)
    CONTRACT = "contract"  # readable, but breaks a quality rule of the contract


@dataclass(frozen=True)
class DeadLetter:
    defect: Defect
    reason: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    def headers(self, product_id: str) -> list[tuple[str, bytes]]:
        # The source coordinates identify a dead letter: re-sent ones (after a crash) can be deduplicated.
        return [
            ("mesh.dlq.defect", self.defect.value.encode()),
            ("mesh.dlq.reason", self.reason.encode()[:4000]),
            ("mesh.dlq.product", product_id.encode()),
            ("mesh.source.topic", self.topic.encode()),
            ("mesh.source.partition", str(self.partition).encode()),
            ("mesh.source.offset", str(self.offset).encode()),
        ]
