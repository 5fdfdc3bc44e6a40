"""The catalog's driven adapters: discovery documents read over HTTP, registrations kept in a JSON file,
the policies in force published on the control topic."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

from mesh_adapters import kafka
from mesh_catalog.records import UnreadableState
from mesh_catalog.service import FetchFailed
from mesh_config import MeshSettings
from mesh_governance import PolicySet, directives
from mesh_sdk.access import ACCESS_KEY
from mesh_sdk.control_topic import POLICIES_KEY, ensure_control_topic, policies_message


class HttpDocumentSource:
    """`GET <base URL>/` of a product, the discovery port every product serves, and `GET <base
    URL>/observations`, its observation port (same timeout)."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s

    def fetch(self, url: str) -> Any:
        return self._get(f"{url.rstrip('/')}/", "a discovery document")

    def fetch_observations(self, url: str) -> Any:
        return self._get(f"{url.rstrip('/')}/observations", "an observation report")

    def _get(self, where: str, what: str) -> Any:
        try:
            response = httpx.get(where, timeout=self.timeout_s, follow_redirects=False)
        except httpx.ConnectError:
            raise FetchFailed(where, "does not answer (connection refused or host unknown)") from None
        except httpx.TimeoutException:
            raise FetchFailed(where, f"did not answer within {self.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchFailed(where, f"could not be read: {exc}") from None
        if response.status_code != 200:
            raise FetchFailed(where, f"answered HTTP {response.status_code}, expected 200 with {what}")
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise FetchFailed(where, f"answered {kind}, not {what} in JSON") from None


class JsonFileStore:
    """One JSON file, replaced atomically: a crash mid-write leaves the previous version, never half a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Any | None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise UnreadableState(str(self.path), f"is not JSON ({exc}): move it away to start empty") from None

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_name(f".{self.path.name}.tmp")
        with open(scratch, "w") as out:
            json.dump(state, out, indent=1)
            out.flush()
            os.fsync(out.fileno())  # on disk before it replaces the previous version
        scratch.replace(self.path)


class KafkaControlPublisher:
    """Publishes on the control topic (compacted: a product that starts later reads the latest at once)
    the policies in force (keyed `policies`) and the access list (keyed `access`). Raises RuntimeError
    when the broker did not take a message."""

    def __init__(self, settings: MeshSettings) -> None:
        self.settings = settings
        self.topic = settings.control_topic
        self._producer: Any = None

    def publish(self, policies: PolicySet) -> None:
        self._send(POLICIES_KEY, policies_message(policies.version, policies.digest, directives(policies)))

    def publish_access(self, message: dict[str, Any]) -> None:
        self._send(ACCESS_KEY, json.dumps(message).encode())

    def _send(self, key: bytes, value: bytes) -> None:
        if self._producer is None:
            ensure_control_topic(self.settings)
            self._producer = kafka.producer(self.settings)
        failures: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                failures.append(str(err))

        self._producer.produce(self.topic, key=key, value=value, on_delivery=delivered)
        left = self._producer.flush(10)
        if left or failures:
            raise RuntimeError(f"{key.decode()} was not published on {self.topic}: {failures or 'timed out'}")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)
            self._producer.close()
            self._producer = None
