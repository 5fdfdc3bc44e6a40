"""The interface between a product's own logic and the platform: what it sees and returns.

A source-aligned product's product.py defines `transform(record, batch) -> row` (`Transform`). A derived
product's defines

    class Derivation:
        def __init__(self, context: Context) -> None: ...
        def refresh(self, inputs: Inputs) -> Mapping[str, Update]: ...        # required
        def describe(self) -> Mapping[str, Any]: ...                           # optional
        def command(self, name, arguments, inputs) -> Mapping[str, Update]: ... # optional

The platform calls `refresh` whenever an input port has a new snapshot (or when told to), with every
input pinned to one snapshot, and commits the updates it returns to the product's Iceberg output
ports. What the derivation keeps between refreshes (open viewing sessions, the model in service) lives
in `context.state`: the platform saves it with each refresh's progress and, after a restart, builds the
Derivation with the state of the last complete refresh, so it continues exactly where it stopped.
`describe` adds what the logic knows about itself (a model card, a watermark) to the discovery and
observation ports. `command` takes a decision made by people (a data steward's `match`, say) from the
control port: the platform runs it like a refresh, one at a time with the refreshes, and commits its
updates and the state it leaves in the same way, so a decision is never half applied nor lost."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeAlias

import duckdb
import pyarrow as pa

Rows: TypeAlias = pa.Table | Sequence[Mapping[str, Any]]
SHARED_TABLE = re.compile(r"\b([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*_v\d+)\b")  # the mesh's table names


@dataclass(frozen=True)
class Update:
    """A change to one output table: rows replacing those with the same key, keys removed, or (with
    `replace_all`) the table's whole new content."""

    rows: Rows = ()
    deleted: Sequence[Mapping[str, Any]] = ()
    replace_all: bool = False

    @classmethod
    def upsert(cls, rows: Rows, deleted: Sequence[Mapping[str, Any]] = ()) -> Update:
        return cls(rows, deleted)

    @classmethod
    def replace(cls, rows: Rows) -> Update:
        return cls(rows, (), True)

    def __bool__(self) -> bool:
        return self.replace_all or len(self.rows) > 0 or len(self.deleted) > 0


@dataclass(frozen=True)
class BatchContext:
    """What a source-aligned product's logic may know about the micro-batch it is part of."""

    ingested_at: datetime


class Skip:
    """What `transform` returns for a record that is read and is, on purpose, no row of the product:
    not a defect (that is None, a dead letter) but, say, a change of hands between two systems that
    record the same entity, which changes nothing about it."""

    def __repr__(self) -> str:
        return "SKIP"


SKIP = Skip()


class EndOfInput(Skip):
    """What `transform` returns for a record by which its source says it has said its last word (a
    system that has handed everything over to another): no row either, and the platform stops reading
    the input port it came from, for good, once the batch that holds it has committed. Read in order
    with the input's other records, it retires the port exactly after the last of them."""

    def __repr__(self) -> str:
        return "END_OF_INPUT"


END_OF_INPUT = EndOfInput()

# A source-aligned product's `transform`: one accepted input record to one history row (None makes it
# a dead letter, SKIP passes it by).
Transform = Callable[[Mapping[str, Any], BatchContext], Mapping[str, Any] | Skip | None]


class ArtifactStore(Protocol):
    """Where a product keeps files that are not tables (a trained model): versioned, on S3."""

    def put(self, version: str, name: str, data: bytes, content_type: str = "application/octet-stream") -> str: ...

    def get(self, version: str, name: str) -> bytes: ...

    def versions(self) -> list[str]: ...

    def delete(self, version: str) -> None: ...


@dataclass(frozen=True)
class Context:
    product_id: str
    artifacts: ArtifactStore
    # What the derivation keeps between refreshes (open sessions, the model in service): the platform
    # saves it with each refresh's progress and hands it back to the Derivation it builds after a
    # restart, so a refresh continues exactly where the last complete one stopped. Anything picklable.
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class Inputs:
    """The input ports for one refresh, each pinned to one snapshot."""

    snapshots: Mapping[str, int | None]
    changed: frozenset[str]  # ports with a snapshot the previous refresh did not see
    now: datetime
    forced: bool = False  # asked for on the control port, even if no input changed
    _new: Mapping[str, pa.Table] = field(default_factory=dict)
    _read: Callable[[str, str | None], pa.Table] | None = None
    # A table of the lakehouse read by its name, not through an input port: shared storage lets any
    # product read any table; the platform reports each such read as an undeclared dependency.
    _shared: Callable[[str], pa.Table] | None = None

    def new(self, port: str) -> pa.Table:
        """The rows the port's snapshots appended since the previous refresh (`read: increments`)."""
        if port not in self._new:
            raise KeyError(f"input port {port!r} is not read as increments: declare `read: increments`")
        return self._new[port]

    def table(self, port: str, where: str | None = None) -> pa.Table:
        """The port's whole table as of its pinned snapshot, or only its rows matching `where` (an
        Iceberg filter such as "occurred_at >= '2026-11-25T10:00:00+00:00'", which skips whole files)."""
        if port not in self.snapshots:
            raise KeyError(f"no input port {port!r}: the product has {sorted(self.snapshots)}")
        assert self._read is not None
        return self._read(port, where)

    def shared(self, table: str) -> pa.Table:
        """A lakehouse table read by its Iceberg name (`namespace.table`), bypassing the input ports: it
        works, as anything does on shared storage, and lineage and governance flag it as undeclared."""
        if self._shared is None:
            raise KeyError(f"{table}: this product cannot read the lakehouse by name")
        return self._shared(table)

    def sql(self, query: str, **tables: pa.Table) -> pa.Table:
        """Run DuckDB SQL over the input ports, each a relation named after its port (a dash becomes
        an underscore), plus any Arrow tables passed by name. A `namespace.table_vN` the query names
        is read from the lakehouse by name (see `shared`)."""
        with duckdb.connect() as conn:
            for port in self.snapshots:
                if port.replace("-", "_") in query:
                    conn.register(port.replace("-", "_"), self.table(port))
            for name, table in tables.items():
                conn.register(name, table)
            for n, (namespace, name) in enumerate(sorted(set(SHARED_TABLE.findall(query)))):
                conn.register(f"_shared_{n}", self.shared(f"{namespace}.{name}"))
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{namespace}"')
                conn.execute(f'CREATE VIEW "{namespace}"."{name}" AS SELECT * FROM _shared_{n}')
            return conn.execute(query).to_arrow_table()


class CommandRefused(ValueError):
    """A command the product cannot take as given: the message says what is wrong (a 422 on the port)."""


class UnknownCommand(KeyError):
    """A command the product does not know (a 404 on the port)."""


class Derivation(Protocol):
    def refresh(self, inputs: Inputs) -> Mapping[str, Update]: ...
