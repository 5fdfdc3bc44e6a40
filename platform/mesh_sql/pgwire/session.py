"""One client connection: startup and authentication, then the simple and extended query protocols."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from mesh_sql.engine import Cancellation, Column
from mesh_sql.errors import SqlError
from mesh_sql.guard import CheckedQuery
from mesh_sql.parameters import REPORTED_PARAMETERS
from mesh_sql.pg_types import TEXT
from mesh_sql.pgwire import codec
from mesh_sql.pgwire.auth import Authenticator, LoginRefused, Method
from mesh_sql.pgwire.commands import CopyOut, LocalStatement, copy_statement, local_statement, split_statements
from mesh_sql.pgwire.queryable import Queryable
from mesh_sql.pgwire.results import Outcome, copy_outcome, fields_of, local_fields, local_outcome, query_outcome
from mesh_sql.pgwire.scram import ProofMismatch, ScramExchange, ScramFailure
from mesh_sql.pgwire.types import decode_param

_T = TypeVar("_T")
_FLUSH_BYTES = 256 * 1024


@dataclass
class _Statement:
    sql: str
    param_types: tuple[int, ...]
    param_count: int
    local: LocalStatement | None
    empty: bool = False
    copy: CopyOut | None = None
    array_params: frozenset[int] = frozenset()


@dataclass
class _Portal:
    statement: _Statement
    params: list[Any]
    result_formats: tuple[int, ...]
    outcome: Outcome | None = None
    done: bool = False


@dataclass
class _State:
    status: str = "I"  # ReadyForQuery: I idle, T in a transaction block, E in a failed one
    skipping: bool = False  # after an error in the extended protocol: discard until Sync
    statements: dict[str, _Statement] = field(default_factory=dict)
    portals: dict[str, _Portal] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)


class Session:
    """Serves one connection until the client terminates or goes away."""

    def __init__(
        self,
        engine: Queryable,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        executor: Executor,
        *,
        process_id: int,
        secret: int,
        authenticator: Authenticator | None = None,
        method: Method = Method.SCRAM,
        channel_binding: bytes | None = None,
    ) -> None:
        self._engine = engine
        self._method = method
        self._channel_binding = channel_binding  # the server certificate's, when this connection is TLS
        self._reader = reader
        self._writer = writer
        self._executor = executor
        self.process_id = process_id
        self.secret = secret
        self._authenticator = authenticator
        self._cancellation = Cancellation()
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._state = _State()
        self._database: str | None = None

    def cancel(self) -> None:
        """Interrupt the running query, if any (a CancelRequest; safe from any thread)."""
        self._cancellation.cancel()

    async def run(self, startup: codec.Startup) -> None:
        try:
            if await self._start(startup):
                while True:
                    message = await codec.read_message(self._reader)
                    if isinstance(message, codec.Terminate):
                        break
                    await self._dispatch(message)
        except codec.ProtocolViolation as exc:
            self._send(codec.fatal_response("08P01", str(exc)))
            await self._flush_quietly()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._cancellation.cancel()
            self._writer.close()

    # --- startup ---------------------------------------------------------------------------------

    async def _start(self, startup: codec.Startup) -> bool:
        major, minor = startup.version >> 16, startup.version & 0xFFFF
        if major != 3:
            self._send(codec.fatal_response("08P01", f"unsupported frontend protocol {major}.{minor}"))
            await self._flush()
            return False
        user = startup.params.get("user", "")
        self._database = startup.params.get("database") or user  # as libpq: the user's name by default
        if self._authenticator is not None and not await self._authenticate(user):
            return False
        self._send(codec.authentication_ok())
        unsupported = [name for name in startup.params if name.startswith("_pq_.")]
        if minor > 0 or unsupported:
            self._send(codec.negotiate_protocol_version(0, unsupported))
        application = startup.params.get("application_name", "")
        self._state.parameters.update(application_name=application, session_authorization=user)
        for name, value in {**REPORTED_PARAMETERS, **self._state.parameters}.items():
            self._send(codec.parameter_status(name, value))
        self._send(codec.backend_key_data(self.process_id, self.secret))
        self._send(codec.ready_for_query("I"))
        await self._flush()
        return True

    async def _authenticate(self, user: str) -> bool:
        try:
            if self._method is Method.PASSWORD:
                self._engine = await self._password(user)
            else:
                self._engine = await self._scram(user)
            return True
        except LoginRefused as exc:
            self._send(codec.fatal_response(exc.sqlstate, exc.message))
        await self._flush()
        return False

    async def _password(self, user: str) -> Queryable:
        authenticator = self._authenticator
        assert authenticator is not None
        self._send(codec.authentication_cleartext_password())
        await self._flush()
        try:
            password = (await self._password_message()).password
        except ValueError:
            raise codec.ProtocolViolation("malformed password message") from None
        return await self._in_thread(authenticator.password, user, password)

    async def _scram(self, user: str) -> Queryable:
        authenticator = self._authenticator
        assert authenticator is not None
        candidates = await self._in_thread(authenticator.scram_secrets, user)
        exchange = ScramExchange(candidates, self._channel_binding)
        self._send(codec.authentication_sasl(exchange.mechanisms))
        await self._flush()
        try:
            mechanism, client_first = (await self._password_message()).sasl_initial()
        except (ValueError, codec.ProtocolViolation):
            raise codec.ProtocolViolation("malformed SASLInitialResponse") from None
        try:
            self._send(codec.authentication_sasl_continue(exchange.first(mechanism, client_first)))
            await self._flush()
            server_final, secret = exchange.final((await self._password_message()).data)
        except ProofMismatch:
            await self._in_thread(authenticator.failed, user, candidates)
            # PostgreSQL's words, which clients and people recognise
            raise LoginRefused(f'password authentication failed for user "{user}"') from None
        except ScramFailure as exc:
            raise LoginRefused(f"SCRAM authentication failed: {exc}") from None
        queryable = await self._in_thread(authenticator.verified, user, secret)
        self._send(codec.authentication_sasl_final(server_final))
        return queryable

    async def _password_message(self) -> codec.Password:
        message = await codec.read_message(self._reader)
        if not isinstance(message, codec.Password):
            raise codec.ProtocolViolation("expected a password message")
        return message

    # --- dispatch --------------------------------------------------------------------------------

    async def _dispatch(self, message: codec.FrontendMessage) -> None:
        state = self._state
        if isinstance(message, codec.Sync):
            state.skipping = False
            if state.status == "I":
                state.portals.clear()  # portals end with the implicit transaction
            self._send(codec.ready_for_query(state.status))
            await self._flush()
            return
        if state.skipping:
            return
        if isinstance(message, codec.Query):
            await self._simple_query(message.sql)
            return
        if isinstance(message, codec.Unsupported):  # copy data, function call: answered like a query
            self._error(SqlError(f"{message.type!r} messages are not supported by the SQL port", "0A000"))
            self._send(codec.ready_for_query(state.status))
            await self._flush()
            return
        try:
            if isinstance(message, codec.Parse):
                await self._parse(message)
            elif isinstance(message, codec.Bind):
                self._bind(message)
            elif isinstance(message, codec.Describe):
                await self._describe(message)
            elif isinstance(message, codec.Execute):
                await self._execute(message)
            elif isinstance(message, codec.Close):
                self._close(message)
            elif isinstance(message, codec.Flush):
                await self._flush()
            elif isinstance(message, codec.Password):
                raise codec.ProtocolViolation("unexpected password message")
        except (codec.ProtocolViolation, ConnectionError):
            raise
        except Exception as exc:
            self._error(_as_sql_error(exc))
            state.skipping = True

    def _error(self, exc: SqlError) -> None:
        if self._state.status != "I":
            self._state.status = "E"
        self._send(codec.error_response(exc.sqlstate, exc.message))

    # --- simple query protocol -------------------------------------------------------------------

    async def _simple_query(self, sql: str) -> None:
        self._state.statements.pop("", None)
        self._state.portals.pop("", None)
        statements = split_statements(sql)
        if not statements:
            self._send(codec.empty_query_response())
        for text in statements:
            try:
                outcome = await self._outcome(text, [], ())
                if outcome.fields is not None:
                    self._send(codec.row_description(outcome.fields))
                await self._send_rows(outcome, 0)
            except (codec.ProtocolViolation, ConnectionError):
                raise
            except Exception as exc:
                self._error(_as_sql_error(exc))
                break
        self._send(codec.ready_for_query(self._state.status))
        await self._flush()

    async def _outcome(self, sql: str, params: list[Any], formats: tuple[int, ...]) -> Outcome:
        copy = copy_statement(sql)
        if copy is not None:
            self._refuse_if_failed(None)
            return await self._in_thread(self._run_copy, copy, params)
        local = local_statement(sql, self._state.parameters)
        self._refuse_if_failed(local)
        if local is not None:
            if local.transaction == "commit" and self._state.status == "E":
                local = replace(local, tag="ROLLBACK")  # as PostgreSQL: a failed transaction cannot commit
            notices = self._apply_transaction(local)
            outcome = local_outcome(local, formats)
            outcome.notices.extend(notices)
            return outcome
        return await self._in_thread(self._run_query, sql, params, formats)

    def _run_query(self, sql: str, params: list[Any], formats: tuple[int, ...]) -> Outcome:
        result = self._engine.execute(sql, params, cancellation=self._cancellation, database=self._database)
        return query_outcome(result, formats)

    def _run_copy(self, copy: CopyOut, params: list[Any]) -> Outcome:
        result = self._engine.execute(copy.query, params, cancellation=self._cancellation, database=self._database)
        return copy_outcome(result, copy)

    def _check(self, sql: str) -> CheckedQuery:
        return self._engine.check(sql, database=self._database)

    def _describe_columns(self, sql: str) -> tuple[Column, ...]:
        return self._engine.describe(sql, database=self._database)

    def _refuse_if_failed(self, local: LocalStatement | None) -> None:
        if self._state.status == "E" and (local is None or local.transaction not in ("commit", "rollback")):
            raise SqlError("current transaction is aborted, commands ignored until end of transaction block", "25P02")

    def _apply_transaction(self, local: LocalStatement) -> list[str]:
        state = self._state
        if local.transaction == "begin":
            if state.status != "I":
                return ["there is already a transaction in progress"]
            state.status = "T"
        elif local.transaction in ("commit", "rollback"):
            if state.status == "I":
                return ["there is no transaction in progress"]
            state.status = "I"
        return []

    async def _send_rows(self, outcome: Outcome, max_rows: int) -> bool:
        """Send the outcome's next rows; True when all were sent (then its notices and tag)."""
        end = len(outcome.rows) if max_rows <= 0 else min(len(outcome.rows), outcome.sent + max_rows)
        for row in outcome.rows[outcome.sent : end]:
            self._send(row)
            if self._out_bytes >= _FLUSH_BYTES:
                await self._flush()
        outcome.sent = end
        if end < len(outcome.rows):
            return False
        for notice in outcome.notices:
            self._send(codec.notice_response(notice))
        self._send(codec.command_complete(outcome.tag))
        return True

    # --- extended query protocol -----------------------------------------------------------------

    async def _parse(self, message: codec.Parse) -> None:
        state = self._state
        if message.statement and message.statement in state.statements:
            raise SqlError(f'prepared statement "{message.statement}" already exists', "42P05")
        statements = split_statements(message.sql)
        if len(statements) > 1:
            raise SqlError("cannot insert multiple commands into a prepared statement", "42601")
        copy = copy_statement(message.sql) if statements else None
        local = local_statement(message.sql, state.parameters) if statements and copy is None else None
        self._refuse_if_failed(local)
        param_count, arrays = 0, frozenset[int]()
        if statements and local is None:
            checked = await self._in_thread(self._check, copy.query if copy else message.sql)
            param_count, arrays = checked.param_count, checked.array_params
        state.statements[message.statement] = _Statement(
            message.sql, message.param_types, param_count, local, not statements, copy, arrays
        )
        self._send(codec.parse_complete())

    def _bind(self, message: codec.Bind) -> None:
        state = self._state
        statement = self._statement(message.statement)
        if len(message.params) != statement.param_count:
            raise SqlError(
                f"bind message supplies {len(message.params)} parameters, but prepared statement "
                f'"{message.statement}" requires {statement.param_count}',
                "08P01",
            )
        if message.portal and message.portal in state.portals:
            raise SqlError(f'cursor "{message.portal}" already exists', "42P03")
        formats = message.param_formats
        params = []
        for i, value in enumerate(message.params):
            fmt = formats[0] if len(formats) == 1 else (formats[i] if formats else 0)
            oid = statement.param_types[i] if i < len(statement.param_types) else 0
            if oid == 0 and i + 1 in statement.array_params:
                oid = TEXT.array_oid  # `= ANY($n)`: PostgreSQL types an untyped $n as an array
            params.append(decode_param(value, oid, fmt == 1, i + 1))
        state.portals[message.portal] = _Portal(statement, params, message.result_formats)
        self._send(codec.bind_complete())

    async def _describe(self, message: codec.Describe) -> None:
        if message.kind == "S":
            statement = self._statement(message.name)
            types = [
                statement.param_types[i] if i < len(statement.param_types) and statement.param_types[i] else TEXT.oid
                for i in range(statement.param_count)
            ]
            self._send(codec.parameter_description(types))
            if statement.local is not None or statement.empty or statement.copy is not None:
                fields = local_fields(statement.local) if statement.local else None
            else:
                columns = await self._in_thread(self._describe_columns, statement.sql)
                fields = fields_of(columns, ()) if columns else None
        else:
            outcome = await self._materialize(self._portal(message.name))
            fields = outcome.fields if outcome else None
        self._send(codec.row_description(fields) if fields else codec.no_data())

    async def _execute(self, message: codec.Execute) -> None:
        portal = self._portal(message.portal)
        if portal.statement.empty:
            self._send(codec.empty_query_response())
            return
        outcome = await self._materialize(portal)
        if outcome is None or portal.done:
            self._send(codec.command_complete(outcome.tag if outcome else "SELECT 0"))
            return
        if await self._send_rows(outcome, message.max_rows):
            portal.done = True
        else:
            self._send(codec.portal_suspended())

    async def _materialize(self, portal: _Portal) -> Outcome | None:
        """Run the portal's statement once (at its Describe or first Execute)."""
        if portal.statement.empty:
            return None
        if portal.outcome is None:
            portal.outcome = await self._outcome(portal.statement.sql, portal.params, portal.result_formats)
        return portal.outcome

    def _close(self, message: codec.Close) -> None:
        if message.kind == "S":
            self._state.statements.pop(message.name, None)
        else:
            self._state.portals.pop(message.name, None)
        self._send(codec.close_complete())

    def _statement(self, name: str) -> _Statement:
        try:
            return self._state.statements[name]
        except KeyError:
            raise SqlError(f'prepared statement "{name}" does not exist', "26000") from None

    def _portal(self, name: str) -> _Portal:
        try:
            return self._state.portals[name]
        except KeyError:
            raise SqlError(f'portal "{name}" does not exist', "34000") from None

    # --- plumbing --------------------------------------------------------------------------------

    async def _in_thread(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run blocking work (DuckDB) off the event loop, so other sessions and cancel requests go on."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    def _send(self, data: bytes) -> None:
        self._out.append(data)
        self._out_bytes += len(data)

    async def _flush(self) -> None:
        if self._out:
            self._writer.write(b"".join(self._out))
            self._out.clear()
            self._out_bytes = 0
        await self._writer.drain()

    async def _flush_quietly(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self._flush()


def _as_sql_error(exc: Exception) -> SqlError:
    if isinstance(exc, SqlError):
        return exc
    return SqlError(f"internal error of the SQL port: {type(exc).__name__}: {exc}")
