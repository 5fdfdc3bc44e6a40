"""What a session runs its queries on, and what a login hands it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mesh_sql.engine import Cancellation, Column, QueryResult
from mesh_sql.guard import CheckedQuery


class Queryable(Protocol):
    """What a session runs its queries on: an SqlEngine, or one consumer's view of it."""

    def check(self, sql: str, *, database: str | None = None) -> CheckedQuery: ...

    def describe(self, sql: str, *, database: str | None = None) -> tuple[Column, ...]: ...

    def execute(
        self,
        sql: str,
        params: Sequence[object] = (),
        *,
        cancellation: Cancellation | None = None,
        database: str | None = None,
    ) -> QueryResult: ...
