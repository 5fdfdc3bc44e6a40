"""What one batch or refresh did, as the observation port counts it: records consumed and written,
duplicates dropped, records passed by on purpose, and dead letters by defect."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pyarrow as pa


class Defect(StrEnum):
    UNDECODABLE = "undecodable"  # not Avro in the registry's wire format
    SCHEMA_INVALID = "schema-invalid"  # Avro, but not readable with the product's input schema
    UNEXPECTED = "unexpected-event"  # readable, but not what the port consumes (another table's change)
    CONTRACT = "contract"  # readable, but breaks a quality rule of the contract


@dataclass
class BatchOutcome:
    consumed: int = 0
    written: int = 0
    duplicates: int = 0
    skipped: int = 0  # read and passed by on purpose (the product's logic said SKIP)
    dead: dict[Defect, int] = field(default_factory=lambda: dict.fromkeys(Defect, 0))
    snapshot_id: int | None = None
    rows: pa.Table | None = None  # what the snapshot added
