"""The SQL port's access control: a PostgreSQL client logs in as its consumer with its API key as the
password, and queries views that mask what its grants leave out. Every statement asks the gate again,
so a key or grant revoked mid-session stops the session's next query; every statement run is recorded."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mesh_access import Access, Denied
from mesh_sdk.access import AccessGate, statement_digest
from mesh_sdk.product import DataProduct
from mesh_sql.engine import Cancellation, Column, QueryResult, SqlEngine
from mesh_sql.errors import SqlError
from mesh_sql.guard import CheckedQuery
from mesh_sql.pgcatalog import TableNotes
from mesh_sql.pgwire import LoginRefused


def sql_table_notes(product: DataProduct) -> dict[str, TableNotes]:
    """What the SQL port's system catalogs tell of each table beyond its columns, from the contract:
    its primary key and descriptions (keyed by the table's qualified name)."""
    notes: dict[str, TableNotes] = {}
    for schema in product.contract.model.schema_ or []:
        if not schema.name:
            continue
        columns = {p.name: p.description for p in schema.properties or [] if p.name and p.description}
        key = tuple(product.contract.primary_key(schema.name))
        notes[product.descriptor.table(schema.name)] = TableNotes(key, schema.description, columns)
    return notes


EngineFor = Callable[[frozenset[str]], SqlEngine]  # the engine whose views hide these columns


class ConsumerQueries:
    def __init__(self, gate: AccessGate, key: str | None, engine_for: EngineFor, port: str) -> None:
        self.gate, self.key, self.engine_for, self.port = gate, key, engine_for, port

    def _allowed(self, sql: str) -> tuple[Access, SqlEngine]:
        try:
            access = self.gate.check(self.key, self.port, statement_digest(sql))
        except Denied as exc:
            raise SqlError(exc.message, "28000" if exc.status == 403 else "28P01") from None
        return access, self.engine_for(self.gate.hidden(access))

    def check(self, sql: str, *, database: str | None = None) -> CheckedQuery:
        return self._allowed(sql)[1].check(sql, database=database)

    def describe(self, sql: str, *, database: str | None = None) -> tuple[Column, ...]:
        return self._allowed(sql)[1].describe(sql, database=database)

    def execute(
        self,
        sql: str,
        params: Sequence[object] = (),
        *,
        cancellation: Cancellation | None = None,
        database: str | None = None,
    ) -> QueryResult:
        access, engine = self._allowed(sql)
        result = engine.execute(sql, params, cancellation=cancellation, database=database)
        self.gate.read(access, self.port, statement_digest(sql), result.row_count)
        return result


def sql_login(gate: AccessGate, engine_for: EngineFor) -> Callable[[str, str], ConsumerQueries]:
    """The PostgreSQL port's authenticator: user = the consumer's id, password = its API key."""

    def login(user: str, password: str) -> ConsumerQueries:
        try:
            access = gate.check(password or None, "sql", "login")
        except Denied as exc:
            raise LoginRefused(exc.message, "28000" if exc.status == 403 else "28P01") from None
        if user != access.consumer:
            raise LoginRefused(
                f'the API key is {access.consumer}\'s: connect as user "{access.consumer}", not "{user}"'
            )
        return ConsumerQueries(gate, password, engine_for, "sql")

    return login
