"""The SQL port's access control: a PostgreSQL client logs in as its consumer with its API key as the
password (proved by SCRAM-SHA-256, so the key never crosses the wire; sent in cleartext only where the
port is configured for it), and queries views that mask what its grants leave out. Every statement asks
the gate again, so a key or grant revoked mid-session stops the session's next query; every statement
run is recorded."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from mesh_access import Access, Denied
from mesh_access.certificates import server_certificate
from mesh_config import MeshSettings
from mesh_sdk.access.gate import AccessGate, statement_digest
from mesh_sdk.spec.product import DataProduct
from mesh_sql.engine import Cancellation, Column, QueryResult, SqlEngine
from mesh_sql.errors import SqlError
from mesh_sql.guard import CheckedQuery
from mesh_sql.pgcatalog import TableNotes
from mesh_sql.pgwire import LoginRefused, ScramSecret, TlsIdentity


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
    """One consumer's view of the SQL engine: `allowed` decides, per statement, whether it may still
    query (by the key it presented, or the key it proved)."""

    def __init__(self, gate: AccessGate, allowed: Callable[[str], Access], engine_for: EngineFor, port: str) -> None:
        self.gate, self.allowed, self.engine_for, self.port = gate, allowed, engine_for, port

    @classmethod
    def presenting(cls, gate: AccessGate, key: str | None, engine_for: EngineFor, port: str) -> ConsumerQueries:
        return cls(gate, lambda resource: gate.check(key, port, resource), engine_for, port)

    def _allowed(self, sql: str) -> tuple[Access, SqlEngine]:
        try:
            access = self.allowed(statement_digest(sql))
        except Denied as exc:
            raise SqlError(exc.message, _sqlstate(exc)) from None
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


def _sqlstate(denied: Denied) -> str:
    return "28000" if denied.status == 403 else "28P01"  # PostgreSQL's: not authorized, bad credentials


class SqlLogin:
    """The PostgreSQL port's authenticator: user = the consumer's id, password = its API key."""

    def __init__(self, gate: AccessGate, engine_for: EngineFor) -> None:
        self.gate, self.engine_for = gate, engine_for

    def scram_secrets(self, user: str) -> list[ScramSecret]:
        try:
            keys = self.gate.scram_keys(user, "sql")
        except Denied as exc:
            raise LoginRefused(f'password authentication failed for user "{user}": {exc.message}') from None
        return [ScramSecret.parse(key.scram, key.id) for key in keys if key.scram]

    def verified(self, user: str, secret: ScramSecret) -> ConsumerQueries:
        key_id = secret.holder
        self._login(lambda: self.gate.check_proven(key_id, "sql", "login"), user)
        allowed = functools.partial(self.gate.check_proven, key_id, "sql")
        return ConsumerQueries(self.gate, allowed, self.engine_for, "sql")

    def failed(self, user: str, secrets: Sequence[ScramSecret]) -> None:
        denied = Denied(401, f"the SCRAM proof matches none of {user}'s API keys", user)
        self.gate.refused("sql", "login", None, denied)

    def password(self, user: str, password: str) -> ConsumerQueries:
        self._login(lambda: self.gate.check(password or None, "sql", "login"), user)
        return ConsumerQueries.presenting(self.gate, password, self.engine_for, "sql")

    @staticmethod
    def _login(check: Callable[[], Access], user: str) -> None:
        try:
            access = check()
        except Denied as exc:
            raise LoginRefused(exc.message, _sqlstate(exc)) from None
        if user != access.consumer:
            raise LoginRefused(
                f'the API key is {access.consumer}\'s: connect as user "{access.consumer}", not "{user}"'
            )


def sql_tls(settings: MeshSettings) -> TlsIdentity | None:
    """The SQL port's TLS identity, unless TLS is off."""
    if settings.sql_tls == "off":
        return None
    made = server_certificate(settings)
    return TlsIdentity(made.certificate, made.key)
