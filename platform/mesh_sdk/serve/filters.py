"""One description of the filters a table's rows can be listed with, from its contract, shared by the
ports that list rows: REST names each as a query parameter (`column`, `column__gt`), GraphQL as a field
of the table's filter input (`column`, `columnGt`), and both hand the reader the same key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from open_data_contract_standard.model import SchemaProperty

# operator -> how the ports describe it; "" is equality
OPERATORS = {
    "": "equals",
    "ne": "not equal",
    "gt": "greater than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "in": "one of",
}


@dataclass(frozen=True)
class Filter:
    column: str
    op: str  # a key of OPERATORS
    logical_type: str  # the contract's logicalType of the column: each port maps it to its own type
    description: str

    @property
    def key(self) -> str:
        """The filter as the reader takes it, and as REST's query parameter: `column` or `column__op`."""
        return f"{self.column}__{self.op}" if self.op else self.column

    @property
    def field(self) -> str:
        """The filter as a field of GraphQL's filter input (camel-cased there): `column` or `column_op`."""
        return f"{self.column}_{self.op}" if self.op else self.column

    @property
    def many(self) -> bool:
        """Several values: a list in GraphQL, comma-separated in REST and for the reader."""
        return self.op == "in"


def table_filters(props: Mapping[str, SchemaProperty]) -> list[Filter]:
    """Every column of the table with every operator, described in the contract's words."""
    return [
        Filter(
            name,
            op,
            prop.logicalType or "string",
            f"{prop.description or name} ({'one of, comma-separated' if op == 'in' else (op or 'equals')})",
        )
        for name, prop in props.items()
        for op in OPERATORS
    ]
