"""PostgreSQL wire protocol v3.0: decoding what clients send, encoding what the server answers.

Small on purpose: the server needs about twenty message kinds (see the protocol's "Message Formats").
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from dataclasses import dataclass

PROTOCOL_3 = 3 << 16
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a client cannot make the server buffer more than this

_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")


class ProtocolViolation(Exception):
    """The client sent something that is not the protocol; the connection is closed."""


# --- what clients send -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Startup:
    version: int
    params: dict[str, str]


@dataclass(frozen=True)
class SslRequest:
    pass


@dataclass(frozen=True)
class GssEncRequest:
    pass


@dataclass(frozen=True)
class CancelRequest:
    process_id: int
    secret: int


@dataclass(frozen=True)
class Query:
    sql: str


@dataclass(frozen=True)
class Parse:
    statement: str
    sql: str
    param_types: tuple[int, ...]


@dataclass(frozen=True)
class Bind:
    portal: str
    statement: str
    param_formats: tuple[int, ...]
    params: tuple[bytes | None, ...]
    result_formats: tuple[int, ...]


@dataclass(frozen=True)
class Describe:
    kind: str  # "S" statement or "P" portal
    name: str


@dataclass(frozen=True)
class Execute:
    portal: str
    max_rows: int


@dataclass(frozen=True)
class Close:
    kind: str
    name: str


@dataclass(frozen=True)
class Sync:
    pass


@dataclass(frozen=True)
class Flush:
    pass


@dataclass(frozen=True)
class Terminate:
    pass


@dataclass(frozen=True)
class Password:
    """A 'p' message: a password, or a step of a SASL exchange; which one depends on what the server
    asked for, so it is read as bytes and decoded by the step that expects it."""

    data: bytes

    @property
    def password(self) -> str:
        return _Reader(self.data).cstring()

    def sasl_initial(self) -> tuple[str, bytes]:
        """SASLInitialResponse: the mechanism the client chose and its first message."""
        body = _Reader(self.data)
        mechanism, length = body.cstring(), body.int32()
        return mechanism, b"" if length < 0 else body.take(length)


@dataclass(frozen=True)
class Unsupported:
    """A message the server does not implement (copy data, function call)."""

    type: str


StartupPacket = Startup | SslRequest | GssEncRequest | CancelRequest
FrontendMessage = Query | Parse | Bind | Describe | Execute | Close | Sync | Flush | Terminate | Password | Unsupported


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def int16(self) -> int:
        (value,) = _I16.unpack_from(self._data, self._pos)
        self._pos += 2
        return int(value)

    def int32(self) -> int:
        (value,) = _I32.unpack_from(self._data, self._pos)
        self._pos += 4
        return int(value)

    def byte(self) -> str:
        value = self._data[self._pos : self._pos + 1].decode("ascii")
        self._pos += 1
        return value

    def cstring(self) -> str:
        end = self._data.index(b"\x00", self._pos)
        value = self._data[self._pos : end].decode("utf-8")
        self._pos = end + 1
        return value

    def rest(self) -> bytes:
        value = self._data[self._pos :]
        self._pos = len(self._data)
        return value

    def take(self, count: int) -> bytes:
        if self._pos + count > len(self._data):
            raise ProtocolViolation("message shorter than its contents")
        value = self._data[self._pos : self._pos + count]
        self._pos += count
        return value


async def _read_exact(reader: asyncio.StreamReader, count: int) -> bytes:
    try:
        return await reader.readexactly(count)
    except asyncio.IncompleteReadError as exc:
        raise ConnectionResetError("the client closed the connection") from exc


async def _read_length(reader: asyncio.StreamReader) -> int:
    (length,) = _I32.unpack(await _read_exact(reader, 4))
    if length < 4 or length > MAX_MESSAGE_BYTES:
        raise ProtocolViolation(f"invalid message length {length}")
    return int(length) - 4


async def read_startup(reader: asyncio.StreamReader) -> StartupPacket:
    """The first packet of a connection (it has no type byte)."""
    body = _Reader(await _read_exact(reader, await _read_length(reader)))
    code = body.int32()
    if code == SSL_REQUEST:
        return SslRequest()
    if code == GSSENC_REQUEST:
        return GssEncRequest()
    if code == CANCEL_REQUEST:
        return CancelRequest(body.int32(), body.int32())
    params: dict[str, str] = {}
    try:
        while (name := body.cstring()) != "":
            params[name] = body.cstring()
    except ValueError as exc:
        raise ProtocolViolation("malformed startup packet") from exc
    return Startup(code, params)


async def read_message(reader: asyncio.StreamReader) -> FrontendMessage:
    """The next message after startup."""
    kind = (await _read_exact(reader, 1)).decode("latin-1")
    data = await _read_exact(reader, await _read_length(reader))
    try:
        return _decode(kind, _Reader(data))
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise ProtocolViolation(f"malformed {kind!r} message") from exc


def _decode(kind: str, body: _Reader) -> FrontendMessage:
    if kind == "Q":
        return Query(body.cstring())
    if kind == "P":
        statement, sql = body.cstring(), body.cstring()
        return Parse(statement, sql, tuple(body.int32() & 0xFFFFFFFF for _ in range(body.int16())))
    if kind == "B":
        portal, statement = body.cstring(), body.cstring()
        formats = tuple(body.int16() for _ in range(body.int16()))
        params: list[bytes | None] = []
        for _ in range(body.int16()):
            size = body.int32()
            params.append(None if size < 0 else body.take(size))
        results = tuple(body.int16() for _ in range(body.int16()))
        return Bind(portal, statement, formats, tuple(params), results)
    if kind == "D":
        return Describe(body.byte(), body.cstring())
    if kind == "E":
        return Execute(body.cstring(), body.int32())
    if kind == "C":
        return Close(body.byte(), body.cstring())
    if kind == "S":
        return Sync()
    if kind == "H":
        return Flush()
    if kind == "X":
        return Terminate()
    if kind == "p":
        return Password(body.rest())
    return Unsupported(kind)


# --- what the server answers -------------------------------------------------------------------------


def _message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + _I32.pack(len(body) + 4) + body


def _cstr(value: str) -> bytes:
    return value.encode("utf-8") + b"\x00"


def authentication_ok() -> bytes:
    return _message(b"R", _I32.pack(0))


def authentication_cleartext_password() -> bytes:
    return _message(b"R", _I32.pack(3))


def authentication_sasl(mechanisms: Sequence[str]) -> bytes:
    return _message(b"R", _I32.pack(10) + b"".join(_cstr(m) for m in mechanisms) + b"\x00")


def authentication_sasl_continue(data: str) -> bytes:
    return _message(b"R", _I32.pack(11) + data.encode())


def authentication_sasl_final(data: str) -> bytes:
    return _message(b"R", _I32.pack(12) + data.encode())


def parameter_status(name: str, value: str) -> bytes:
    return _message(b"S", _cstr(name) + _cstr(value))


def backend_key_data(process_id: int, secret: int) -> bytes:
    return _message(b"K", _I32.pack(process_id) + _I32.pack(secret))


def negotiate_protocol_version(minor: int, unsupported: Sequence[str]) -> bytes:
    body = _I32.pack(minor) + _I32.pack(len(unsupported)) + b"".join(_cstr(o) for o in unsupported)
    return _message(b"v", body)


def ready_for_query(status: str) -> bytes:
    return _message(b"Z", status.encode("ascii"))


@dataclass(frozen=True)
class Field:
    """One column of a RowDescription."""

    name: str
    type_oid: int
    type_size: int = -1
    type_modifier: int = -1
    format: int = 0  # 0 text, 1 binary


def row_description(fields: Sequence[Field]) -> bytes:
    body = bytearray(_I16.pack(len(fields)))
    for f in fields:
        body += _cstr(f.name)
        body += _I32.pack(0) + _I16.pack(0)  # no source table, no column number
        body += struct.pack("!Ihih", f.type_oid, f.type_size, f.type_modifier, f.format)
    return _message(b"T", bytes(body))


def data_row(values: Sequence[bytes | None]) -> bytes:
    body = bytearray(_I16.pack(len(values)))
    for value in values:
        if value is None:
            body += _I32.pack(-1)
        else:
            body += _I32.pack(len(value)) + value
    return _message(b"D", bytes(body))


def command_complete(tag: str) -> bytes:
    return _message(b"C", _cstr(tag))


def _fields(severity: str, code: str, message: str, detail: str | None, hint: str | None) -> bytes:
    parts = [b"S" + _cstr(severity), b"V" + _cstr(severity), b"C" + _cstr(code), b"M" + _cstr(message)]
    if detail:
        parts.append(b"D" + _cstr(detail))
    if hint:
        parts.append(b"H" + _cstr(hint))
    return b"".join(parts) + b"\x00"


def error_response(code: str, message: str, *, detail: str | None = None, hint: str | None = None) -> bytes:
    return _message(b"E", _fields("ERROR", code, message, detail, hint))


def fatal_response(code: str, message: str) -> bytes:
    return _message(b"E", _fields("FATAL", code, message, None, None))


def notice_response(message: str, *, code: str = "01000", severity: str = "WARNING") -> bytes:
    return _message(b"N", _fields(severity, code, message, None, None))


def parameter_description(type_oids: Sequence[int]) -> bytes:
    return _message(b"t", _I16.pack(len(type_oids)) + b"".join(struct.pack("!I", o) for o in type_oids))


def parse_complete() -> bytes:
    return _message(b"1")


def bind_complete() -> bytes:
    return _message(b"2")


def close_complete() -> bytes:
    return _message(b"3")


def no_data() -> bytes:
    return _message(b"n")


def portal_suspended() -> bytes:
    return _message(b"s")


def empty_query_response() -> bytes:
    return _message(b"I")


def copy_out_response(binary: bool, columns: int) -> bytes:
    fmt = 1 if binary else 0
    return _message(b"H", bytes([fmt]) + _I16.pack(columns) + b"".join(_I16.pack(fmt) for _ in range(columns)))


def copy_data(data: bytes) -> bytes:
    return _message(b"d", data)


def copy_done() -> bytes:
    return _message(b"c")


def ssl_refused() -> bytes:
    return b"N"


def ssl_accepted() -> bytes:
    return b"S"
