"""`mesh generate playback` refuses bad options and names what it cannot reach; no servers needed."""

from __future__ import annotations

import socket

import pytest
import typer
from typer.testing import CliRunner

from mesh_cli.generate import generate_app

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
