"""An Iceberg table whose rows are identified by key columns and changed by replacing rows by key: the
touched keys deleted and their new rows appended in one transaction, so that no reader ever travels to
the state between the two (the delete's snapshot is marked partial). A captured table's current state
(`current_state`) and a derived product's outputs (`mesh_sdk.derive.keyed_table`) are such tables."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.expressions import BooleanExpression
from pyiceberg.table import Table

from mesh_sdk.storage.history import PARTIAL
from mesh_sdk.storage.maintenance import Upkeep, default_upkeep


@dataclass(frozen=True)
class Delta:
    """One replacement: the keys it touched (all removed) and the rows alive again (added), taking the
    table from one snapshot to the next. Copies of the table follow it without a full reload."""

    from_snapshot: int | None
    to_snapshot: int | None
    keys: pa.Table
    alive: pa.Table


class KeyedRows:
    def __init__(
        self, table: Table, key_columns: Sequence[str], schema: pa.Schema, upkeep: Upkeep | None = None
    ) -> None:
        self.table = table
        self.key_columns = list(key_columns)
        self.schema = schema
        self.upkeep = upkeep or default_upkeep()

    def key_schema(self) -> pa.Schema:
        return pa.schema([self.schema.field(c) for c in self.key_columns])

    def replace(
        self,
        where: BooleanExpression | None,
        rows: pa.Table,
        properties: Mapping[str, str],
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """Delete what `where` selects (nothing for None) and append `rows`, with `properties` in both
        snapshots and `extra` set as table properties, in one transaction (which updates `self.table`)."""
        props = dict(properties)
        with self.table.transaction() as tx, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Delete operation did not match any records")  # inserts
            if where is not None:
                tx.delete(where, snapshot_properties=props | {PARTIAL: "true"} if rows.num_rows else props)
            if rows.num_rows:
                tx.append(rows, snapshot_properties=props)
            if extra:
                tx.set_properties(dict(extra))

    def snapshot_id(self) -> int | None:
        current = self.table.current_snapshot()
        return current.snapshot_id if current is not None else None
