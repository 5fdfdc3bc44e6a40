"""The object store's request log, received. SeaweedFS's S3 gateway reports every request it serves over
Fluentd's forward protocol (msgpack over TCP, each message acknowledged once taken). The receiver keeps
the records a predicate wants in a spool file until the catalog's pull has appended them to the access
log: what was acknowledged survives a catalog restart."""

from __future__ import annotations

import gzip
import json
import logging
import os
import socketserver
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import msgpack

log = logging.getLogger(__name__)

Record = dict[str, Any]
_MAX_MESSAGE = 8 * 1024 * 1024  # a message larger than this is not a request record


class ForwardProtocolError(ValueError):
    pass


def _event_time(code: int, data: bytes) -> Any:
    """The protocol's EventTime (ext type 0: seconds and nanoseconds) as a float."""
    if code == 0 and len(data) == 8:
        seconds, nanos = struct.unpack(">II", data)
        return seconds + nanos / 1e9
    return msgpack.ExtType(code, data)


def _unpacker() -> msgpack.Unpacker:
    return msgpack.Unpacker(raw=False, ext_hook=_event_time, max_buffer_size=_MAX_MESSAGE, strict_map_key=False)


def _entry(entry: Any) -> Record:
    if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], dict)):
        raise ForwardProtocolError(f"an entry must be [time, record], got {type(entry).__name__}")
    return entry[1]


def decode(message: Any) -> tuple[list[Record], str | None]:
    """The records of one forward-protocol message (Message, Forward or PackedForward mode) and the
    chunk id to acknowledge, if the sender asked for an acknowledgement."""
    if not (isinstance(message, list) and 2 <= len(message) <= 4 and isinstance(message[0], str)):
        raise ForwardProtocolError("a message must be an array [tag, ...] of 2 to 4 items")
    second, rest = message[1], message[2:]
    if isinstance(second, int | float):  # Message mode: [tag, time, record, option?]
        if not rest or not isinstance(rest[0], dict):
            raise ForwardProtocolError("a message [tag, time, ...] must carry a record (a map)")
        records, rest = [rest[0]], rest[1:]
    elif isinstance(second, list):  # Forward mode: [tag, [[time, record], ...], option?]
        records = [_entry(e) for e in second]
    elif isinstance(second, bytes | str):  # PackedForward mode: [tag, entries as one msgpack stream, option?]
        packed = second.encode() if isinstance(second, str) else second
        option = rest[0] if rest and isinstance(rest[0], dict) else {}
        if option.get("compressed") == "gzip":
            packed = gzip.decompress(packed)
        stream = _unpacker()
        stream.feed(packed)
        records = [_entry(e) for e in stream]
    else:
        raise ForwardProtocolError(f"the second item of a message cannot be a {type(second).__name__}")
    if len(rest) > 1 or (rest and not isinstance(rest[0], dict)):
        raise ForwardProtocolError("a message's last item, the option, must be a map")
    chunk = rest[0].get("chunk") if rest else None
    return records, chunk if isinstance(chunk, str) else None


class RequestSpool:
    """Records appended as JSON lines, taken in batches: a batch is set aside, handled, then deleted,
    so a failure while handling leaves it to be handled again."""

    def __init__(self, path: Path) -> None:
        self.path, self.taking = path, path.with_suffix(".taking")
        self.lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, records: list[Record]) -> None:
        lines = "".join(json.dumps(r, default=str, separators=(",", ":")) + "\n" for r in records)
        with self.lock, self.path.open("a") as spool:
            spool.write(lines)
            spool.flush()
            os.fsync(spool.fileno())

    def take(self, handle: Callable[[list[Record]], object]) -> int:
        """Handle every record spooled so far; returns how many were handled."""
        with self.lock:
            if not self.taking.exists():
                if not self.path.exists():
                    return 0
                self.path.rename(self.taking)
        records = list(self._read(self.taking))
        handle(records)
        self.taking.unlink()
        return len(records)

    @staticmethod
    def _read(path: Path) -> Iterator[Record]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d is not a record (a write cut short?); left out", path, number)
                continue
            if isinstance(record, dict):
                yield record


class _Connection(socketserver.BaseRequestHandler):
    server: RequestLogReceiver

    def handle(self) -> None:
        stream = _unpacker()
        while chunk := self.request.recv(65536):
            try:
                stream.feed(chunk)
                for message in stream:
                    records, ack = decode(message)
                    kept = [r for r in records if self.server.keep(r)]
                    if kept:
                        self.server.spool.append(kept)
                    if ack is not None:
                        self.request.sendall(msgpack.packb({"ack": ack}))
            except (ForwardProtocolError, ValueError, msgpack.UnpackException) as exc:
                # The stream cannot be read past a bad message: the sender reconnects and resends.
                log.warning("the object store's request log from %s is not readable: %s", self.client_address, exc)
                return


class RequestLogReceiver(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], spool: RequestSpool, keep: Callable[[Mapping[str, Any]], bool]):
        self.spool, self.keep = spool, keep
        super().__init__(address, _Connection)
