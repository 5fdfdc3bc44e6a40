"""The real Toxiproxy (built with Go into the download cache on first use) in front of a TCP echo server
standing in for S3: it listens on loopback only, adds the latency it is told, holds every byte under a
`timeout` toxic, and closes the connections it held when that toxic goes (what the network faults'
explanations rely on). Its own ports: MESH_TOXIPROXY_TEST_BASE_PORT, default 21900."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from mesh_config import MeshSettings
from mesh_stack.isolated import isolated_settings
from mesh_stack.toxiproxy import (
    S3,
    Toxic,
    Toxiproxy,
    proxy_address,
    start_toxiproxy,
    stop_toxiproxy,
    toxiproxy_process,
)

pytestmark = pytest.mark.integration
BASE_PORT = int(os.environ.get("MESH_TOXIPROXY_TEST_BASE_PORT", "21900"))


def _echo(server: socket.socket, stopping: threading.Event) -> None:
    server.settimeout(0.2)
    while not stopping.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        threading.Thread(target=_echo_one, args=(conn,), daemon=True).start()


def _echo_one(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(1024):
            conn.sendall(data)


@pytest.fixture(scope="module")
def toxiproxy() -> Iterator[tuple[MeshSettings, Toxiproxy]]:
    settings = isolated_settings(f"test-toxiproxy-{BASE_PORT}", BASE_PORT)
    stopping = threading.Event()
    with socket.create_server(("127.0.0.1", settings.s3_port)) as server:
        echo = threading.Thread(target=_echo, args=(server, stopping), daemon=True)
        echo.start()
        try:
            yield settings, start_toxiproxy(settings, timeout_s=60)
        finally:
            stop_toxiproxy(settings)
            stopping.set()
            echo.join()  # before the socket closes under its accept()
            shutil.rmtree(settings.home, ignore_errors=True)


def _round_trip(client: socket.socket) -> float:
    began = time.monotonic()
    client.sendall(b"ping")
    assert client.recv(16) == b"ping"
    return time.monotonic() - began


def _connect(settings: MeshSettings) -> socket.socket:
    host, port = proxy_address(settings, S3).split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def test_it_listens_on_loopback_only(toxiproxy: tuple[MeshSettings, Toxiproxy]) -> None:
    settings, proxy = toxiproxy
    assert proxy.version() == "v2.5.0"
    pid = toxiproxy_process(settings).pid
    listening = [c.laddr for c in psutil.Process(pid).net_connections("inet") if c.status == psutil.CONN_LISTEN]
    assert {a.port for a in listening} >= {settings.toxiproxy_port, settings.toxiproxy_s3_port}
    assert {a.ip for a in listening} == {"127.0.0.1"}


def test_latency_delays_each_round_trip(toxiproxy: tuple[MeshSettings, Toxiproxy]) -> None:
    settings, proxy = toxiproxy
    with _connect(settings) as client:
        assert _round_trip(client) < 0.3
        proxy.add_toxic(S3, Toxic("latency-downstream", "latency", "downstream", (("latency", 400),)))
        try:
            assert _round_trip(client) >= 0.4
        finally:
            assert proxy.remove_toxics(S3) == ["latency-downstream"]
        assert _round_trip(client) < 0.3


def test_a_partition_holds_every_byte_and_its_end_closes_the_held_connections(
    toxiproxy: tuple[MeshSettings, Toxiproxy],
) -> None:
    settings, proxy = toxiproxy
    with _connect(settings) as client:
        for stream in ("upstream", "downstream"):
            proxy.add_toxic(S3, Toxic(f"timeout-{stream}", "timeout", stream, (("timeout", 0),)))
        client.sendall(b"ping")
        client.settimeout(1.5)
        with pytest.raises(TimeoutError):
            client.recv(16)  # nothing refused, nothing answered: a silent partition
        proxy.remove_toxics(S3)
        client.settimeout(5)
        began = time.monotonic()
        try:
            closed = client.recv(16) == b""
        except ConnectionResetError:
            closed = True
        assert closed and time.monotonic() - began < 2
    with _connect(settings) as client:
        assert _round_trip(client) < 0.3  # a new connection goes through again
