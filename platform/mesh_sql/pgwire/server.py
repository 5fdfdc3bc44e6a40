"""The PostgreSQL wire-protocol server of the SQL port (asyncio; queries run in a thread pool)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from mesh_sql.engine import SqlEngine
from mesh_sql.pgwire import codec
from mesh_sql.pgwire.auth import Authenticator, Method, TlsIdentity
from mesh_sql.pgwire.session import Session

log = logging.getLogger(__name__)

DEFAULT_PORT = 5433


class PgWireServer:
    """Serves an engine to PostgreSQL clients (psql, psycopg, JDBC, BI tools). With an `authenticator`
    clients log in by `method` (SCRAM-SHA-256 unless a cleartext password is asked for) and each
    session queries what the authenticator returns for its user; without one every client is trusted
    with the engine. With a `tls` identity clients may ask for TLS (`sslmode=require`), and with
    `tls_required` they must."""

    def __init__(
        self,
        engine: SqlEngine,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        authenticator: Authenticator | None = None,
        method: Method = Method.SCRAM,
        tls: TlsIdentity | None = None,
        tls_required: bool = False,
        max_workers: int = 8,
    ) -> None:
        if tls_required and tls is None:
            raise ValueError("TLS cannot be required without a certificate")
        self.engine = engine
        self._method = method
        self._tls = tls.context() if tls is not None else None
        self._channel_binding = tls.channel_binding() if tls is not None else None
        self._tls_required = tls_required
        self.host = host
        self._requested_port = port
        self._authenticator = authenticator
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="mesh-sql-query")
        self._server: asyncio.Server | None = None
        self._sessions: dict[int, Session] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        if self._server is None or not self._server.sockets:
            return self._requested_port
        return int(self._server.sockets[0].getsockname()[1])

    async def start_serving(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self._requested_port)

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start_serving()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop listening, interrupt running queries and close every connection."""
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions.values()):
            session.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            packet = await codec.read_startup(reader)
            encrypted = False
            while isinstance(packet, codec.SslRequest | codec.GssEncRequest):
                if isinstance(packet, codec.SslRequest) and self._tls is not None and not encrypted:
                    writer.write(codec.ssl_accepted())
                    await writer.drain()
                    await writer.start_tls(self._tls)
                    encrypted = True
                else:  # no GSSAPI here, and TLS only once: the client goes on as it is
                    writer.write(codec.ssl_refused())
                    await writer.drain()
                packet = await codec.read_startup(reader)
            if isinstance(packet, codec.CancelRequest):
                self._cancel(packet)
                return
            if self._tls_required and not encrypted:
                writer.write(
                    codec.fatal_response("28000", "this SQL port accepts TLS connections only: sslmode=require")
                )
                await writer.drain()
                return
            process_id = next(self._ids)
            session = Session(
                self.engine,
                reader,
                writer,
                self._executor,
                process_id=process_id,
                secret=secrets.randbelow(2**31),
                authenticator=self._authenticator,
                method=self._method,
                channel_binding=self._channel_binding if encrypted else None,
            )
            self._sessions[process_id] = session
            try:
                await session.run(packet)
            finally:
                self._sessions.pop(process_id, None)
        except (ConnectionError, asyncio.IncompleteReadError, codec.ProtocolViolation, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("SQL port connection failed")
        finally:
            self._tasks.discard(task)
            writer.close()

    def _cancel(self, request: codec.CancelRequest) -> None:
        session = self._sessions.get(request.process_id)
        if session is not None and secrets.compare_digest(
            session.secret.to_bytes(4, "big"), (request.secret & 0xFFFFFFFF).to_bytes(4, "big")
        ):
            session.cancel()

    # --- in a background thread (tests, embedding in a product) ------------------------------------

    def start(self, timeout_s: float = 10.0) -> PgWireServer:
        """Serve from a background thread; returns once the port is bound."""
        loop = asyncio.new_event_loop()
        bound = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_serving())
            except BaseException as exc:
                failure.append(exc)
                bound.set()
                loop.close()
                return
            bound.set()
            loop.run_forever()
            loop.run_until_complete(self.aclose())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"mesh-sql-pgwire-{self.host}", daemon=True)
        self._thread.start()
        if not bound.wait(timeout_s):
            raise TimeoutError(f"the SQL port did not bind {self.host}:{self._requested_port} in {timeout_s} s")
        if failure:
            raise failure[0]
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)
        self._loop = None
        self._thread = None

    def __enter__(self) -> PgWireServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def serve(
    engine: SqlEngine,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    authenticator: Authenticator | None = None,
    method: Method = Method.SCRAM,
    tls: TlsIdentity | None = None,
) -> None:
    """Serve the engine on host:port until interrupted."""
    server = PgWireServer(engine, host, port, authenticator=authenticator, method=method, tls=tls)
    asyncio.run(server.serve_forever())
