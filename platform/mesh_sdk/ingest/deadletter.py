"""Dead letters: input the product cannot accept, kept with the reason instead of being lost."""

from __future__ import annotations

from dataclasses import dataclass

from mesh_sdk.observe.outcome import Defect


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
