"""What a lab's checks and solves get: the running mesh seen from the platform (catalog, ports that
describe a product, topics, tables, the access log) and from the learner (their identity, their
answers). A check reads; only a solve acts, and it acts as the learner."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

import httpx

from mesh_adapters import kafka
from mesh_client import MeshConsumer
from mesh_client.analyst import ANALYST, key_path, owner_key
from mesh_config import MeshSettings
from mesh_labs.outcome import Outcome, failed, passed
from mesh_labs.progress import LabProgress
from mesh_labs.spec import LabSpec
from mesh_stack.assembly import product_ports
from mesh_stack.process import ManagedProcess

T = TypeVar("T")


class Unanswered(Exception):
    """A check needs the learner's answer to a step that has none yet."""

    def __init__(self, step: str) -> None:
        super().__init__(f"no answer yet: mesh lab answer {step} VALUE")
        self.step = step


ACCESS_TOPIC = "mesh.access"


@dataclass(frozen=True)
class ProcessSince:
    pid_then: int | None
    pid_now: int | None  # None: not running
    log: str  # what it logged since, including the platform's own lines (=== starting, stopped by mesh)

    @property
    def replaced(self) -> bool:
        """The process that ran then is gone (a new one may run in its place)."""
        return self.pid_then is not None and self.pid_now != self.pid_then

    @property
    def stopped_by_mesh(self) -> bool:
        return "stopped by mesh" in self.log

    def restarted_at(self) -> datetime | None:
        """When the newest start since the mark happened, by the platform's line in the log."""
        return self._newest("starting")

    def stopped_at(self) -> datetime | None:
        """When the newest stop asked of mesh since the mark happened (a kill -9 leaves no line)."""
        return self._newest("stopped by mesh")

    def _newest(self, what: str) -> datetime | None:
        found = re.findall(rf"^=== (\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d) {what}", self.log, re.MULTILINE)
        return datetime.strptime(found[-1], "%Y-%m-%d %H:%M:%S").astimezone() if found else None


class LabMesh:
    def __init__(self, settings: MeshSettings, spec: LabSpec, progress: LabProgress) -> None:
        self.settings = settings
        self.spec = spec
        self.progress = progress

    # --- the learner ---------------------------------------------------------------------------------

    learner_id = ANALYST

    @cached_property
    def learner(self) -> MeshConsumer:
        """The learner's identity: the demo analyst's key (what MESH_API_KEY holds in their shell)."""
        return MeshConsumer(self.settings, key_path(self.settings).read_text().strip())

    def answer(self, step: str) -> str:
        """What the learner recorded for a step with `mesh lab answer STEP VALUE`; a check that asks
        for one fails with "no answer yet" until there is one."""
        given = self.progress.answers.get(step)
        if not given:
            raise Unanswered(step)
        return given.strip()

    def given(self, step: str) -> str | None:
        """The learner's answer to a step, if any (for solves that build on an earlier step)."""
        return self.progress.answers.get(step)

    def give_answer(self, step: str, value: object) -> None:
        """A solve answers as the learner would."""
        self.progress.answers[step] = str(value)

    def owner_of(self, product_id: str) -> MeshConsumer:
        """An identity of the product's owning team (mesh demo and `mesh lab start` keep their keys)."""
        team = self.catalog(f"/products/{product_id}")["owner"]["team"]
        return MeshConsumer(self.settings, owner_key(self.settings, team))

    def create_consumer(self, consumer_id: str, team: str) -> MeshConsumer:
        """A new consumer identity, as the platform team issues one (with the platform token)."""
        from mesh_access.platform_token import platform_token

        token = platform_token(self.settings)
        made = httpx.post(
            f"{self.settings.product_catalog_endpoint}/access/consumers",
            json={"id": consumer_id, "team": team},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        made.raise_for_status()
        return MeshConsumer(self.settings, made.json()["api_key"])

    @property
    def baseline(self) -> dict[str, Any]:
        """What the lab's setup noted about the system when the lab started (kept in the progress)."""
        return self.progress.baseline

    # --- the platform's view -------------------------------------------------------------------------

    def catalog(self, path: str, **params: Any) -> Any:
        answer = httpx.get(self.settings.product_catalog_endpoint + path, params=params or None, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def catalog_post(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.post(self.settings.product_catalog_endpoint + path, json=body, headers=headers, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def product_url(self, name: str) -> str:
        return f"http://{self.settings.host}:{product_ports(self.settings, name).http}"

    def describe(self, name: str, path: str = "/") -> Any:
        """A product's open ports: discovery (/), /observations, /snapshots, /health."""
        answer = httpx.get(self.product_url(name) + path, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Each partition's next offset: where records written from now on will start."""
        return kafka.end_offsets(self.settings, topic)

    def records_since(self, topic: str, offsets: dict[str, int] | dict[int, int]) -> list[Any]:
        """The records written to `topic` after `offsets` (as end_offsets gave them), up to its end now."""
        return kafka.read_since(self.settings, topic, {int(p): int(o) for p, o in offsets.items()})

    def mark(self, topic: str) -> None:
        """Note where `topic` ends now, so a check can look at what was written after (see `since`)."""
        self.baseline.setdefault("offsets", {})[topic] = {str(p): o for p, o in self.end_offsets(topic).items()}

    def since(self, topic: str) -> list[Any]:
        """The records written to a topic marked at the lab's start (or its last reset)."""
        return self.records_since(topic, self.baseline.get("offsets", {}).get(topic, {}))

    def accesses(self, *, product: str | None = None, consumer: str | None = None) -> list[dict[str, Any]]:
        """The access log's records (mesh.access) since the lab started: who read which product on
        which port. Kafka reads appear once the catalog's next pull has seen the committed offsets."""
        import json

        records = [json.loads(m.value()) for m in self.since(ACCESS_TOPIC)]
        return [
            r
            for r in records
            if (product is None or r.get("product") == product) and (consumer is None or r.get("consumer") == consumer)
        ]

    def learner_read(self, product_id: str, ports: Sequence[str]) -> Outcome:
        """Whether the learner read a product over each of `ports` (rest, graphql, sql, sql_http, kafka)
        since the lab started, by the access log."""
        read = self.learner_ports(product_id)
        missing = [p for p in ports if p not in read]
        if missing:
            seen = ", ".join(sorted(read)) or "none"
            return failed(
                f"no read of {product_id} over {', '.join(missing)} by {self.learner_id} since the lab started "
                f"(read over: {seen})"
            )
        return passed(f"{self.learner_id} read {product_id} over {', '.join(ports)}")

    def learner_ports(self, product_id: str) -> set[str]:
        """The ports on which the learner read `product_id` since the lab started: the query ports by
        the access log, the streams by the learner's groups' committed offsets (what the catalog audits
        too, but only at its next pull, which may fall after a reset)."""
        mine = self.accesses(product=product_id, consumer=self.learner_id)
        ports = {r["port"] for r in mine if r.get("outcome") == "read" and r["port"] != "kafka"}
        if self.stream_read(self.learner_id, product_id):
            ports.add("kafka")
        return ports

    def _committed(self, consumer: str) -> dict[tuple[str, str, int], int]:
        return kafka.committed_offsets(self.settings, kafka.admin(self.settings), [f"{consumer}."])

    def mark_groups(self, consumer: str) -> None:
        """Note how far the consumer's groups have read, so a check sees only reads after this."""
        self.baseline.setdefault("groups", {})[consumer] = [[*k, v] for k, v in self._committed(consumer).items()]

    def stream_read(self, consumer: str, product_id: str) -> bool:
        """Whether one of the consumer's groups committed a read of the product's streams since the mark."""
        from mesh_config.naming import product_of_topic

        before = {(g, t, p): o for g, t, p, o in self.baseline.get("groups", {}).get(consumer, [])}
        return any(
            offset > before.get(position, 0) and product_of_topic(position[1]) == product_id
            for position, offset in self._committed(consumer).items()
        )

    def process(self, name: str) -> ManagedProcess:
        """A product's process (by its folder name) or a stack component's (kafka, connect, ...)."""
        from mesh_stack import Stack
        from mesh_stack.products import product_process

        components = Stack(self.settings).components
        if name in components and not (self.settings.products_dir / name / "dataproduct.yaml").exists():
            return components[name].process
        return product_process(self.settings, name)

    def kill(self, name: str) -> None:
        """kill -9 of a process's whole group, as a learner does it: no shutdown hook runs."""
        import os
        import signal

        pid = self.process(name).pid
        if pid is None:
            raise RuntimeError(f"{name} is not running")
        os.killpg(pid, signal.SIGKILL)
        self.wait_for(lambda: self.process(name).pid is None, f"{name}'s process to die", 10)

    def mark_process(self, name: str) -> None:
        """Note a process's pid and where its log ends, so a check can tell what happened to it since.
        It is started first if it is not running: a lab that watches a process starts with it up."""
        process = self.process(name)
        if process.pid is None:
            from mesh_stack import Stack
            from mesh_stack.assembly import ensure_products

            if name in Stack(self.settings).components:
                Stack(self.settings).up()
            else:
                ensure_products(self.settings, [name])
        size = process.log_path.stat().st_size if process.log_path.exists() else 0
        self.baseline.setdefault("processes", {})[name] = {"pid": process.pid, "log": size}

    def since_mark(self, name: str) -> ProcessSince:
        """What became of a process marked at the lab's start: its pid then and now, and its log since."""
        process = self.process(name)
        noted = self.baseline.get("processes", {}).get(name, {})
        log = ""
        if process.log_path.exists():
            with open(process.log_path, "rb") as f:
                f.seek(int(noted.get("log", 0)))
                log = f.read().decode(errors="replace")
        return ProcessSince(noted.get("pid"), process.pid, log)

    def retire(self, name: str) -> None:
        """Undo a product a lab had the learner build, as if it never was, in every major up to the one
        its folder names: its process stopped, its catalog entries, tables, registered schemas and folder
        gone (for labs whose reset starts it anew)."""
        import shutil

        from confluent_kafka.schema_registry import SchemaRegistryClient

        from mesh_access.platform_token import platform_token
        from mesh_adapters.lakehouse import iceberg_catalog
        from mesh_config.naming import ProductName
        from mesh_sdk.spec.descriptor import load_descriptor
        from mesh_stack.products import stop_product

        stop_product(self.settings, name)
        folder = self.settings.products_dir / name
        if not (folder / "dataproduct.yaml").exists():
            return
        descriptor = load_descriptor(folder / "dataproduct.yaml")
        current = ProductName.of(descriptor.id)
        majors = [ProductName(current.domain, current.product, m) for m in range(1, current.major + 1)]
        headers = {"Authorization": f"Bearer {platform_token(self.settings)}"}
        lakehouse = iceberg_catalog(self.settings)
        for major in majors:
            httpx.delete(f"{self.settings.product_catalog_endpoint}/products/{major.id}", headers=headers, timeout=30)
            for port in descriptor.output_ports:
                if port.kind == "iceberg" and lakehouse.table_exists(major.table(port.name)):
                    lakehouse.drop_table(major.table(port.name))
        registry = SchemaRegistryClient({"url": self.settings.schema_registry_url})
        for subject in registry.get_subjects():
            if subject.startswith(f"{current.domain}.{current.product}."):
                registry.delete_subject(subject)
                registry.delete_subject(subject, permanent=True)
        shutil.rmtree(folder)

    def iceberg_rows(self, table: str, snapshot: int | None = None) -> list[dict[str, Any]]:
        from mesh_adapters.lakehouse import iceberg_catalog

        loaded = iceberg_catalog(self.settings).load_table(table)
        scan = loaded.scan(snapshot_id=snapshot) if snapshot is not None else loaded.scan()
        rows: list[dict[str, Any]] = scan.to_arrow().to_pylist()
        return rows

    def snapshot_ids(self, table: str) -> list[int]:
        from mesh_adapters.lakehouse import iceberg_catalog

        return [s.snapshot_id for s in iceberg_catalog(self.settings).load_table(table).snapshots()]

    def sql_in(self, database: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        """A statement in one of the operational databases (legacy, content), as its own team would."""
        import psycopg

        with psycopg.connect(self.settings.postgres_dsn(database), autocommit=True) as conn:
            cursor = conn.execute(statement.encode(), params or None)
            return list(cursor.fetchall()) if cursor.description else []

    @staticmethod
    def wait_for(probe: Callable[[], T | None], what: str, timeout_s: float = 60, pause_s: float = 1.0) -> T:
        """For solves and setups: until `probe` returns something truthy, or a clear error saying what
        never came."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")
            time.sleep(pause_s)

    @classmethod
    def wait_ended(cls, pid: int, what: str, timeout_s: float = 60) -> None:
        """Until a process a solve started in the background (a generator, a fault's run) has ended;
        one that ended but was not reaped yet counts as ended."""
        import psutil

        def ended() -> bool:
            try:
                return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
            except psutil.NoSuchProcess:
                return True

        cls.wait_for(ended, what, timeout_s, pause_s=0.5)
