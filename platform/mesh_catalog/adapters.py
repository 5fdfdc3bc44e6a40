"""The catalog's driven adapters: discovery documents read over HTTP, registrations kept in a JSON file,
the policies in force and the access list published on the control topic, consumers' credentials and
ACLs on the Kafka broker and the object store, what they read there."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pyarrow.fs
import pyarrow.parquet as pq
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from mesh_adapters import kafka
from mesh_catalog.records import UnreadableState
from mesh_catalog.service import FetchFailed
from mesh_config import MeshSettings
from mesh_governance import PolicySet, directives
from mesh_sdk.access.control_topic import POLICIES_KEY, ensure_control_topic, policies_message
from mesh_sdk.access.gate import ACCESS_KEY


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


class _BrokerAdmin:
    """The platform's admin client, opened at first use: the broker may start after the catalog."""

    def __init__(self, settings: MeshSettings) -> None:
        self.settings = settings
        self._admin: AdminClient | None = None

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = kafka.admin(self.settings)
        return self._admin

    def reachable(self) -> bool:
        return kafka.reachable(self.admin)

    def close(self) -> None:
        # An admin client has no close(): dropping it stops its retries of a broker that may be gone.
        self._admin = None


class KafkaBroker(_BrokerAdmin):
    """Consumers' access on the broker itself: a SCRAM credential per consumer (its newest API key), and
    READ ACLs on the topics its grants allow plus on consumer groups named `<consumer>.…`. Only the ACLs
    of the book's consumers are touched: the platform's own principal is a super user and has none."""

    MECHANISM = ScramMechanism.SCRAM_SHA_256

    def __init__(self, settings: MeshSettings, consumers: Callable[[], Iterable[str]]) -> None:
        super().__init__(settings)
        self.consumers = consumers  # every consumer the book knows, granted or not

    def set_password(self, consumer: str, key: str) -> None:
        info = ScramCredentialInfo(self.MECHANISM, 8192)
        for future in self.admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(consumer, info, key.encode())]
        ).values():
            future.result(timeout=15)

    def remove(self, consumer: str) -> None:
        for future in self.admin.alter_user_scram_credentials(
            [UserScramCredentialDeletion(consumer, self.MECHANISM)]
        ).values():
            try:
                future.result(timeout=15)
            except KafkaException as exc:
                if "RESOURCE_NOT_FOUND" not in str(exc):  # already gone
                    raise

    def allow(self, topics: Mapping[str, set[str]]) -> None:
        wanted = set()
        for consumer, names in topics.items():
            principal = f"User:{consumer}"
            wanted |= {_acl(ResourceType.TOPIC, name, ResourcePatternType.LITERAL, principal) for name in names}
            if names:
                wanted.add(_acl(ResourceType.GROUP, f"{consumer}.", ResourcePatternType.PREFIXED, principal))
        managed = {f"User:{c}" for c in self.consumers()}
        everything = AclBindingFilter(
            ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY
        )
        present = {_key(b) for b in self.admin.describe_acls(everything).result(timeout=15) if b.principal in managed}
        missing = [_binding(k) for k in wanted - present]
        extra = [_filter(k) for k in present - wanted]
        if missing:
            for future in self.admin.create_acls(missing).values():
                future.result(timeout=15)
        if extra:
            for future in self.admin.delete_acls(extra).values():
                future.result(timeout=15)


_AclKey = tuple[ResourceType, str, ResourcePatternType, str]


def _acl(kind: ResourceType, name: str, pattern: ResourcePatternType, principal: str) -> _AclKey:
    return (kind, name, pattern, principal)


def _key(binding: AclBinding) -> _AclKey:
    return (binding.restype, binding.name, binding.resource_pattern_type, binding.principal)


def _binding(key: _AclKey) -> AclBinding:
    return AclBinding(key[0], key[1], key[2], key[3], "*", AclOperation.READ, AclPermissionType.ALLOW)


def _filter(key: _AclKey) -> AclBindingFilter:
    return AclBindingFilter(key[0], key[1], key[2], key[3], "*", AclOperation.ANY, AclPermissionType.ANY)


class SeaweedLakehouse:
    """Consumers' access on the embedded object store (SeaweedFS), through `weed shell`'s s3.configure,
    which the S3 gateway applies at once: one S3 user per consumer (`consumer-<id>`), an access key per
    API key it asked lakehouse credentials for, and `Read:<bucket>/<table path>/*` per table its grants
    allow. The platform's own identity is static (s3.json) and never touched."""

    PREFIX = "consumer-"

    def __init__(self, settings: MeshSettings, weed: str) -> None:
        self.settings, self.weed = settings, weed

    def _shell(self, *commands: str) -> str:
        s = self.settings
        result = subprocess.run(
            [self.weed, "shell", f"-master={s.host}:{s.s3_master_port}", f"-filer={s.host}:{s.s3_filer_port}"],
            input="\n".join(commands) + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"weed shell failed: {result.stderr.strip()[-300:]}")
        return result.stdout

    @staticmethod
    def access_key(key_id: str) -> str:
        return f"MESH{key_id.upper()}"

    def issue(self, consumer: str, key_id: str) -> tuple[str, str]:
        user, access = f"{self.PREFIX}{consumer}", self.access_key(key_id)
        secret = secrets.token_urlsafe(30)
        self._shell(
            f"s3.configure -user={user} -delete -access_key={access} -apply",  # an earlier secret, if any
            f"s3.configure -user={user} -access_key={access} -secret_key={secret} -apply",
        )
        return access, secret

    def withdraw(self, consumer: str, key_id: str) -> None:
        self._shell(f"s3.configure -user={self.PREFIX}{consumer} -delete -access_key={self.access_key(key_id)} -apply")

    def _identities(self) -> dict[str, set[str]]:
        shown = self._shell("s3.configure")
        start, end = shown.find("{"), shown.rfind("}")
        config = json.loads(shown[start : end + 1]) if start >= 0 else {}
        return {i["name"]: set(i.get("actions") or []) for i in config.get("identities", [])}

    def allow(self, tables: Mapping[str, set[str]]) -> None:
        present = self._identities()
        commands = []
        for consumer, locations in tables.items():
            user = f"{self.PREFIX}{consumer}"
            wanted = {f"Read:{location.removeprefix('s3://').rstrip('/')}/*" for location in locations}
            have = {a for a in present.get(user, set()) if a.startswith("Read:")}
            if wanted - have:
                commands.append(f"s3.configure -user={user} -actions={','.join(sorted(wanted - have))} -apply")
            if have - wanted:
                commands.append(f"s3.configure -user={user} -delete -actions={','.join(sorted(have - wanted))} -apply")
        if commands:
            self._shell(*commands)


class KafkaGroupOffsets(_BrokerAdmin):
    """The committed offsets of every consumer group whose name starts with one of `prefixes`."""

    def committed(self, prefixes: Iterable[str]) -> dict[tuple[str, str, int], int]:
        return kafka.committed_offsets(self.settings, self.admin, prefixes)


class ParquetRowCounts:
    """The rows of a data file, from its Parquet footer (read with the platform's credentials, once per
    file: data files never change)."""

    def __init__(self, settings: MeshSettings, remembered: int = 100_000) -> None:
        self.settings, self.remembered = settings, remembered
        self._rows: dict[str, int] = {}
        self._fs: pyarrow.fs.S3FileSystem | None = None

    def rows(self, path: str) -> int:
        """`path` is s3://bucket/key; a file that is gone (expired) counts none."""
        if path not in self._rows:
            if self._fs is None:
                s = self.settings
                scheme, _, endpoint = s.s3_url.partition("://")
                self._fs = pyarrow.fs.S3FileSystem(
                    access_key=s.s3_access_key,
                    secret_key=s.s3_secret_key,
                    endpoint_override=endpoint,
                    scheme=scheme,
                    region=s.s3_region,
                )
            try:
                rows = pq.read_metadata(path.removeprefix("s3://"), filesystem=self._fs).num_rows
            except (FileNotFoundError, OSError):
                return 0
            if len(self._rows) >= self.remembered:
                self._rows.clear()
            self._rows[path] = rows
        return self._rows[path]
