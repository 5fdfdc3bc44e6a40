"""Lakehouse reads for the audit trail: the object store's request records (Fluentd's forward protocol)
received, spooled, and summed into reads per consumer and table."""

from __future__ import annotations

import gzip
import socket
import struct
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgpack
import pytest

from mesh_access.lakehouse_reads import LakehouseRead, lakehouse_reads, object_request
from mesh_catalog.s3_request_log import ForwardProtocolError, RequestLogReceiver, RequestSpool, decode

CUSTOMERS = "urn:mesh:subscriptions:customers:v1"
TABLE = "s3://lakehouse/subscriptions.db/customers_state_v1"
TABLES = {TABLE: CUSTOMERS, "s3://lakehouse/playback.db/events_events_v1": "urn:mesh:playback:events:v1"}


def _request(key: str, *, who: str = "consumer-support", status: int = 200, op: str = "REST.GET.OBJECT") -> Any:
    return {
        "requester": who,
        "operation": op,
        "bucket": "lakehouse",
        "key": key,
        "status": status,
        "time": 1_796_000_000,
        "error_code": "AccessDenied" if status == 403 else "",
    }


def test_a_consumers_object_reads_are_summed_per_table_with_the_data_files_read() -> None:
    records = [
        _request("subscriptions.db/customers_state_v1/metadata/00001.metadata.json"),
        _request("subscriptions.db/customers_state_v1/data/a.parquet"),
        _request("subscriptions.db/customers_state_v1/data/a.parquet", op="REST.HEAD.OBJECT"),  # one file, twice
        _request("subscriptions.db/customers_state_v1/data/b.parquet"),
        _request("playback.db/events_events_v1/metadata/1.metadata.json", status=403),
        _request("playback.db/events_events_v1/data/x.parquet", status=403),
        _request("subscriptions.db/customers_state_v1/data/c.parquet", who="mesh"),  # the platform's own
        _request("subscriptions.db/customers_state_v1/", op="REST.GET.BUCKET"),  # a listing, no object
        _request("elsewhere/file.parquet"),  # no product's table
    ]
    requests = [r for r in map(object_request, records) if r is not None]
    assert len(requests) == 7
    at = datetime.fromtimestamp(1_796_000_000, UTC)
    assert lakehouse_reads(requests, TABLES) == [
        LakehouseRead(
            "support", "urn:mesh:playback:events:v1", "s3://lakehouse/playback.db/events_events_v1", "denied", at, 2,
            (), 403, "AccessDenied",
        ),
        LakehouseRead(
            "support", CUSTOMERS, TABLE, "read", at, 4,
            (f"{TABLE}/data/a.parquet", f"{TABLE}/data/b.parquet"),
        ),
    ]  # fmt: skip


def test_a_table_whose_name_starts_like_another_is_its_own() -> None:
    tables = {TABLE: CUSTOMERS, f"{TABLE}x": "urn:mesh:subscriptions:other:v1"}
    request = object_request(_request("subscriptions.db/customers_state_v1x/data/a.parquet"))
    assert request is not None
    assert [r.product for r in lakehouse_reads([request], tables)] == ["urn:mesh:subscriptions:other:v1"]


@pytest.mark.parametrize("record", [{}, {"requester": 7}, {"requester": "consumer-x", "operation": "REST.GET.OBJECT"}])
def test_a_record_that_is_not_a_consumers_object_read_is_none(record: dict[str, Any]) -> None:
    assert object_request(record) is None


def _record(n: int) -> dict[str, Any]:
    return {"requester": "consumer-support", "n": n}


def test_every_mode_of_the_forward_protocol_is_decoded_with_its_chunk() -> None:
    packed = b"".join(msgpack.packb([1, _record(n)]) for n in (3, 4))
    assert decode(["s3.access", 1, _record(1)]) == ([_record(1)], None)
    assert decode(["s3.access", 1.5, _record(1), {"chunk": "abc"}]) == ([_record(1)], "abc")
    assert decode(["s3.access", [[1, _record(1)], [2, _record(2)]], {"chunk": "c"}]) == ([_record(1), _record(2)], "c")
    assert decode(["s3.access", packed]) == ([_record(3), _record(4)], None)
    assert decode(["s3.access", gzip.compress(packed), {"compressed": "gzip"}]) == ([_record(3), _record(4)], None)


@pytest.mark.parametrize(
    "message",
    [{"a": 1}, ["s3.access"], [1, 2, {}], ["s3.access", 1], ["s3.access", 1, "x"], ["s3.access", [[1]]],
     ["s3.access", None, {}], ["s3.access", 1, {}, "option"]],
)  # fmt: skip
def test_a_malformed_message_is_refused_saying_why(message: Any) -> None:
    with pytest.raises(ForwardProtocolError):
        decode(message)


def test_the_spool_hands_records_over_once_and_keeps_them_when_handling_fails(tmp_path: Path) -> None:
    spool = RequestSpool(tmp_path / "requests.jsonl")
    assert spool.take(lambda records: None) == 0
    spool.append([_record(1), _record(2)])

    def fail(records: list[dict[str, Any]]) -> None:
        raise RuntimeError("the broker is down")

    with pytest.raises(RuntimeError):
        spool.take(fail)
    spool.append([_record(3)])  # arrives meanwhile: handled next time
    seen: list[list[dict[str, Any]]] = []
    assert spool.take(seen.append) == 2
    assert spool.take(seen.append) == 1
    assert spool.take(seen.append) == 0
    assert seen == [[_record(1), _record(2)], [_record(3)]]


def test_a_line_cut_short_is_left_out(tmp_path: Path) -> None:
    spool = RequestSpool(tmp_path / "requests.jsonl")
    spool.append([_record(1)])
    with spool.path.open("a") as file:
        file.write('{"requester": "consu')
    seen: list[list[dict[str, Any]]] = []
    spool.take(seen.append)
    assert seen == [[_record(1)]]


@pytest.fixture
def request_log_receiver(tmp_path: Path) -> Iterator[RequestLogReceiver]:
    receiver = RequestLogReceiver(
        ("127.0.0.1", 0), RequestSpool(tmp_path / "requests.jsonl"), lambda r: r.get("requester") == "consumer-a"
    )
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()
    thread.join(5)


def _address(receiver: RequestLogReceiver) -> tuple[str, int]:
    host, port = receiver.server_address[:2]
    return str(host), int(port)


def _send(receiver: RequestLogReceiver, *messages: Any) -> list[Any]:
    """Send messages on one connection; the acknowledgements that came back."""
    acks: list[Any] = []
    with socket.create_connection(_address(receiver), timeout=5) as connection:
        for message in messages:
            connection.sendall(msgpack.packb(message))
            if isinstance(message[-1], dict) and "chunk" in message[-1]:
                acks.append(msgpack.unpackb(connection.recv(1024)))
    return acks


def test_the_receiver_acknowledges_each_message_after_spooling_the_records_wanted(
    request_log_receiver: RequestLogReceiver,
) -> None:
    wanted, other = {"requester": "consumer-a", "key": "k"}, {"requester": "mesh", "key": "k"}
    event_time = msgpack.ExtType(0, struct.pack(">II", 1_796_000_000, 5))  # sub-second precision
    acks = _send(
        request_log_receiver,
        ["s3.access", 1, wanted, {"chunk": "c1"}],
        ["s3.access", 2, other, {"chunk": "c2"}],
        ["s3.access", event_time, wanted, {"chunk": "c3"}],
    )
    assert acks == [{"ack": "c1"}, {"ack": "c2"}, {"ack": "c3"}]
    seen: list[list[dict[str, Any]]] = []
    request_log_receiver.spool.take(seen.append)
    assert seen == [[wanted, wanted]]


def test_a_connection_sending_garbage_is_closed_and_the_receiver_serves_on(
    request_log_receiver: RequestLogReceiver,
) -> None:
    with socket.create_connection(_address(request_log_receiver), timeout=5) as connection:
        connection.sendall(msgpack.packb({"not": "a message"}))
        assert connection.recv(1024) == b"", "the receiver closes a connection it cannot read on"
    acks = _send(request_log_receiver, ["s3.access", 1, {"requester": "consumer-a"}, {"chunk": "ok"}])
    assert acks == [{"ack": "ok"}]
