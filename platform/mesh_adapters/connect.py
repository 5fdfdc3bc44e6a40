"""Kafka Connect's REST API: connectors created, inspected, restarted and removed by name."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx


class ConnectError(RuntimeError):
    pass


@dataclass(frozen=True)
class ConnectorStatus:
    name: str
    state: str  # RUNNING, PAUSED, FAILED, UNASSIGNED, or MISSING when no such connector exists
    tasks: tuple[str, ...]
    trace: str = ""

    @property
    def running(self) -> bool:
        return self.state == "RUNNING" and bool(self.tasks) and all(t == "RUNNING" for t in self.tasks)


class ConnectClient:
    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ConnectClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ConnectError(
                f"Kafka Connect at {self.url} did not answer ({exc}): is the stack up (`mesh up`)?"
            ) from exc
        if response.status_code >= 400 and response.status_code != 404:
            raise ConnectError(f"Kafka Connect refused {method} {path}: {response.status_code} {response.text[:500]}")
        return response

    def put(self, name: str, config: Mapping[str, str]) -> None:
        """Create the connector, or update it to exactly this configuration (idempotent)."""
        self._call("PUT", f"/connectors/{name}/config", json=dict(config))

    def config(self, name: str) -> dict[str, str] | None:
        response = self._call("GET", f"/connectors/{name}/config")
        return None if response.status_code == 404 else dict(response.json())

    def status(self, name: str) -> ConnectorStatus:
        response = self._call("GET", f"/connectors/{name}/status")
        if response.status_code == 404:
            return ConnectorStatus(name, "MISSING", ())
        body = response.json()
        tasks = body.get("tasks", [])
        trace = "\n".join(t.get("trace", "") for t in tasks if t.get("trace")) or body["connector"].get("trace", "")
        return ConnectorStatus(name, body["connector"]["state"], tuple(t["state"] for t in tasks), trace)

    def restart(self, name: str) -> None:
        """Restart the connector and all its tasks (what an operator does after a failure)."""
        self._call("POST", f"/connectors/{name}/restart", params={"includeTasks": "true", "onlyFailed": "false"})

    def delete(self, name: str) -> bool:
        return self._call("DELETE", f"/connectors/{name}").status_code != 404

    def names(self) -> list[str]:
        return list(self._call("GET", "/connectors").json())

    def wait_running(self, name: str, timeout_s: float = 60.0) -> ConnectorStatus:
        deadline = time.monotonic() + timeout_s
        status = self.status(name)
        while not status.running:
            if status.state == "FAILED" or "FAILED" in status.tasks:
                raise ConnectError(f"connector {name} failed:\n{status.trace[:2000]}")
            if time.monotonic() > deadline:
                raise ConnectError(f"connector {name} is not running after {timeout_s:.0f} s: {status}")
            time.sleep(0.3)
            status = self.status(name)
        return status
