"""Helpers for products' own tests: run a product in-process against a stack, and wait for it."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from mesh_config import MeshSettings
from mesh_sdk.product import load_product
from mesh_sdk.runtime import ProductRuntime, RuntimeOptions

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_product(folder: Path, settings: MeshSettings, **options: object) -> Iterator[ProductRuntime]:
    """The product with all its ports, on free ports, stopped on exit."""
    opts = RuntimeOptions(http_port=free_port(), sql_port=free_port(), control_token="test-token", **options)  # type: ignore[arg-type]
    runtime = ProductRuntime(load_product(folder), settings, opts)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


def _comparable(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) and value.tzinfo else value


def state_matches(runtime: ProductRuntime, expected: Mapping[Any, Mapping[str, Any]], columns: Sequence[str]) -> bool:
    """Whether a captured table's current state in the lakehouse equals `expected` (rows by key,
    as the source database holds them) on `columns`, row for row."""
    assert runtime.state is not None, "only products fed by change data capture keep a current state"
    key = runtime.key_columns[0]
    rows = runtime.state.table.refresh().scan(selected_fields=tuple(columns)).to_arrow().to_pylist()
    actual = {r[key]: {c: _comparable(r[c]) for c in columns} for r in rows}
    wanted = {k: {c: _comparable(v[c]) for c in columns} for k, v in expected.items()}
    return len(rows) == len(actual) and actual == wanted


def eventually(probe: Callable[[], T | None], *, attempts: int = 100, pause_s: float = 0.2) -> T:
    """Poll `probe` until it returns something truthy, a bounded number of times."""
    last: T | None = None
    for _ in range(attempts):
        last = probe()
        if last:
            return last
        time.sleep(pause_s)
    raise AssertionError(f"condition not met after {attempts} attempts (last value: {last!r})")
