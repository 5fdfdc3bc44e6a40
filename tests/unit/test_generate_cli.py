"""`mesh generate playback` refuses bad options and names what it cannot reach; no servers needed."""

from __future__ import annotations

import socket
import time

import pytest
import typer
from typer.testing import CliRunner

from mesh_cli.generate import generate_app
from mesh_generate import AvroMessage, Deliveries, Outgoing

# As the `mesh` command registers it.
mesh = typer.Typer()
mesh.add_typer(generate_app, name="generate")


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(mesh, ["generate", "playback", *args])
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--rate", "0"], "must be positive"),
        (["--late-fraction", "0.5", "--duplicate-fraction", "0.3", "--malformed-fraction", "0.3"], "below 1"),
        (["--malformed-fraction", "2"], "--malformed-fraction"),
        (["--count", "0"], "--count"),
    ],
)
def test_bad_options_are_refused_before_connecting(args: list[str], complaint: str) -> None:
    exit_code, output = run(*args)

    assert exit_code == 2
    assert complaint in output


def test_an_unreachable_kafka_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"127.0.0.1:{unused_port()}"
    monkeypatch.setenv("MESH_KAFKA_BOOTSTRAP", address)

    exit_code, output = run("--count", "1")

    assert exit_code == 1
    assert f"cannot reach Kafka at {address}: is the stack up? run `mesh up`" in output


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--backfill-hours", "-1"], "--backfill-hours"),
        (["--backfill-hours", "24", "--backfill-viewers", "0"], "--backfill-viewers"),
        (["--backfill-hours", "24", "--backfill-events", "0"], "--backfill-events"),
    ],
)
def test_bad_backfill_options_are_refused_before_connecting(args: list[str], complaint: str) -> None:
    exit_code, output = run(*args)

    assert exit_code == 2
    assert complaint in output


class FakeSink:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.deliveries = Deliveries()

    def send(self, message: Outgoing) -> None:
        self.sent.append(message)

    def poll(self) -> None:
        self.deliveries.delivered = len(self.sent)

    def flush(self, timeout_s: float) -> int:
        self.poll()
        return 0


def test_duration_0_sends_the_history_only_and_none_of_it_from_the_future(monkeypatch: pytest.MonkeyPatch) -> None:
    from mesh_generate.kafka_sink import KafkaPlaybackSink

    sink = FakeSink()
    monkeypatch.setattr(KafkaPlaybackSink, "connect", classmethod(lambda cls, settings, topic: sink))
    started_ms = time.time_ns() // 1_000_000

    exit_code, output = run("--backfill-hours", "2", "--backfill-events", "3000", "--duration", "0", "--seed", "4")

    assert exit_code == 0, output
    assert "a history of 2 h" in output and "history done:" in output
    assert "events/s:" not in output  # no live traffic announced
    occurred = [m.record["occurred_at"] for m in sink.sent if isinstance(m, AvroMessage)]
    assert len(sink.sent) == pytest.approx(3000, rel=0.2)
    assert min(occurred) >= started_ms - 2 * 3_600_000
    assert max(occurred) <= time.time_ns() // 1_000_000
    assert {m.record["customer_id"] for m in sink.sent if isinstance(m, AvroMessage)} <= set(range(1, 10_001))
