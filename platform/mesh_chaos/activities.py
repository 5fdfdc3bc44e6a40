"""The actions and probes the fault experiments (faults/*.yaml, Chaos Toolkit's format) call: each takes
the run's `configuration` (the mesh's settings and the run's state file), which Chaos Toolkit passes in.
Actions act on the real mesh (signals, the stack's components, traffic); probes wait, within a bound,
for the steady state and say whether it came."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import KafkaException

from mesh_chaos import evidence
from mesh_config import MeshSettings, load_settings

Configuration = dict[str, Any]


def settings_of(configuration: Configuration) -> MeshSettings:
    return load_settings(**configuration["mesh"])


def _state_path(configuration: Configuration) -> Path:
    return Path(configuration["state_file"])


def _state(configuration: Configuration) -> dict[str, Any]:
    path = _state_path(configuration)
    return dict(json.loads(path.read_text())) if path.exists() else {}


def _remember(configuration: Configuration, **values: Any) -> None:
    state = _state(configuration) | values
    _state_path(configuration).write_text(json.dumps(state, indent=2, default=str))


def _mesh_command() -> str:
    return str(Path(sys.executable).parent / "mesh")


def _base(settings: MeshSettings, product: str) -> str:
    from mesh_stack.assembly import product_ports

    return f"http://{settings.host}:{product_ports(settings, product).http}"


# --- actions -------------------------------------------------------------------------------------------


def mark_traffic(configuration: Configuration) -> str:
    """From here on, every message sent to playback.events is accounted for."""
    marks = evidence.mark(settings_of(configuration))
    _remember(configuration, marks={t: {str(p): o for p, o in m.items()} for t, m in marks.items()})
    return "marked"


def send_playback(rate: float, seconds: float, configuration: Configuration, malformed: float = 0.0) -> str:
    """App telemetry at `rate` events/s for `seconds` (clean unless `malformed` is a share), through the
    real generator; it keeps retrying while the broker is away (librdkafka buffers)."""
    argv = [_mesh_command(), "generate", "playback", "--rate", str(rate), "--duration", str(float(seconds))]
    argv += ["--late-fraction", "0", "--duplicate-fraction", "0.01", "--malformed-fraction", str(malformed)]
    argv += ["--wait-delivery", "240"]  # a stopped server comes back within any fault's bound, loaded or not
    done = subprocess.run(argv, env=settings_of(configuration).environment(), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the traffic generator failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "sent"


def traffic_flows(within_s: float, configuration: Configuration, messages: int = 50) -> str:
    """Until the traffic started in the background has put `messages` on the input since the mark: on a
    loaded machine the generator takes seconds to start, and a fault injected before it sends tests
    nothing (and makes the generator's own start fail)."""
    marks = {int(p): o for p, o in _state(configuration).get("marks", {}).get(evidence.INPUT, {}).items()}
    settings = settings_of(configuration)

    def sent() -> int:
        from mesh_adapters import kafka

        ends = kafka.end_offsets(settings, evidence.INPUT)
        return sum(end - marks.get(p, 0) for p, end in ends.items())

    if not _until(lambda: sent() >= messages, within_s, pause_s=0.5):
        raise RuntimeError(f"fewer than {messages} messages sent within {within_s:g} s: the traffic did not start")
    return f"{sent()} messages sent so far"


def wait(seconds: float) -> str:
    time.sleep(float(seconds))
    return f"waited {float(seconds):g} s"


def kill_product(product: str, configuration: Configuration) -> str:
    """kill -9 of the product's process group: no shutdown hook runs, nothing is flushed."""
    from mesh_stack.products import running_products

    for process in running_products(settings_of(configuration)):
        if process.name == f"product-{product}" and process.pid:
            os.killpg(process.pid, signal.SIGKILL)
            return f"killed {product} (pid {process.pid}) with SIGKILL"
    raise RuntimeError(f"{product} is not running")


def start_product(product: str, configuration: Configuration) -> str:
    from mesh_stack.assembly import ensure_products

    ensure_products(settings_of(configuration), [product])
    return f"{product} running"


def stop_component(component: str, configuration: Configuration) -> str:
    from mesh_stack import Stack

    Stack(settings_of(configuration))[component].stop()
    return f"{component} stopped"


def kill_component(component: str, configuration: Configuration) -> str:
    from mesh_stack import Stack

    process = getattr(Stack(settings_of(configuration))[component], "process", None)
    if process is None or not process.pid:
        raise RuntimeError(f"{component} is not running")
    os.killpg(process.pid, signal.SIGKILL)
    return f"killed {component} (pid {process.pid}) with SIGKILL"


def start_stack(configuration: Configuration) -> str:
    """Every component of the stack that is not running is started again (idempotent)."""
    from mesh_stack import Stack

    report = Stack(settings_of(configuration)).up()
    return f"started again: {', '.join(report.start_s) or 'nothing (all running)'}"


def add_toxic(
    proxy: str,
    kind: str,
    configuration: Configuration,
    attributes: dict[str, int] | None = None,
    streams: list[str] | None = None,
) -> str:
    """A toxic on Toxiproxy's proxy in front of the broker (`kafka`) or S3 (`s3`), on both directions
    unless `streams` says one: `latency` (attributes latency and jitter, in ms), `timeout` (timeout 0:
    every byte held and no connection closed, a silent partition), or any other type Toxiproxy has."""
    from mesh_stack.toxiproxy import Toxic, Toxiproxy

    toxiproxy = Toxiproxy(settings_of(configuration))
    pairs = tuple(sorted((attributes or {}).items()))
    directions = streams or ["upstream", "downstream"]
    for stream in directions:
        toxiproxy.add_toxic(proxy, Toxic(f"{kind}-{stream}", kind, stream, pairs))
    described = f"{kind} ({', '.join(f'{k} {v}' for k, v in pairs)}) on {' and '.join(directions)}"
    _remember(configuration, **{f"injected_{proxy}": described})
    return f"{proxy}: {described}"


def heal(proxy: str, configuration: Configuration) -> str:
    """Every toxic of the proxy removed: the network is as it was (the product is still behind it)."""
    from mesh_stack.toxiproxy import Toxiproxy

    removed = Toxiproxy(settings_of(configuration)).remove_toxics(proxy)
    return f"{proxy}: removed {', '.join(removed) or 'nothing'}"


def route_directly(product: str, configuration: Configuration) -> str:
    """The product restarted on the direct endpoints (if a network fault had put it behind Toxiproxy)."""
    from mesh_chaos.network import route

    return route(settings_of(configuration), product, [])


def stop_toxiproxy(configuration: Configuration) -> str:
    from mesh_stack.toxiproxy import stop_toxiproxy as stop

    return "Toxiproxy stopped" if stop(settings_of(configuration)) else "Toxiproxy was not running"


def send_legacy_changes(rate: float, seconds: float, configuration: Configuration) -> str:
    """Business transactions in the legacy monolith (sign-ups, profile edits, plan changes)."""
    argv = [_mesh_command(), "generate", "legacy", "--rate", str(rate), "--duration", str(float(seconds))]
    done = subprocess.run(argv, env=settings_of(configuration).environment(), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the legacy workload failed: {done.stderr.strip()[-500:]}")
    return "transactions done"


def send_foreign_record(configuration: Configuration) -> str:
    """A producer that breaks playback's input schema. The registry refuses the incompatible schema
    under the input's subject; the producer then writes anyway, framed with the id of a schema
    registered for another subject, which the product's input schema cannot read."""
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    settings = settings_of(configuration)
    registry = SchemaRegistryClient({"url": settings.schema_registry_url})
    foreign = {"type": "record", "name": "Rogue", "namespace": "chaos", "fields": [{"name": "n", "type": "long"}]}
    try:
        registry.register_schema(f"{evidence.INPUT}-value", Schema(json.dumps(foreign), "AVRO"))
        refused = "the registry ACCEPTED an incompatible schema"
    except Exception as exc:  # SchemaRegistryError: 409 incompatible
        refused = f"the registry refused it: {str(exc)[:200]}"
    _remember(configuration, registry=refused)
    subject = "chaos.rogue-value"
    registry.register_schema(subject, Schema(json.dumps(foreign), "AVRO"))
    serialize = AvroSerializer(registry, json.dumps(foreign), conf={"auto.register.schemas": False})
    value = serialize({"n": 1}, SerializationContext(subject.removesuffix("-value"), MessageField.VALUE))
    producer = Producer(settings.kafka_client())
    producer.produce(evidence.INPUT, key=b"rogue", value=value)
    if producer.flush(30):
        raise RuntimeError("the rogue record was not delivered")
    _remember(configuration, foreign_records=1)
    return "one record with a foreign schema sent"


def tamper_audit(configuration: Configuration) -> str:
    """An insider with write access to the lake rewrites one record of the audit log in place, with
    Iceberg's own API: a captured change made to look like a deletion. Its hash is left as it was."""
    import dataclasses

    from mesh_audit.verify import open_stores

    table, _store = open_stores(settings_of(configuration))
    last = table.head().sequence
    if last < 2:
        raise RuntimeError("the audit log holds fewer than two records: nothing worth tampering with")
    original = table.record(max(1, last - 3))
    assert original is not None
    forged = dataclasses.replace(original, operation="u" if original.operation == "d" else "d")
    _rewrite(table, forged)
    _remember(configuration, tampered={"sequence": original.sequence, "field": "operation", "restored": False})
    return f"record {original.sequence}'s operation rewritten from {original.operation!r} to {forged.operation!r}"


def _rewrite(table: Any, record: Any) -> None:
    import pyarrow as pa

    from mesh_audit.log_table import SCHEMA

    row = {name: getattr(record, name) for name in SCHEMA.column_names}
    rows = pa.Table.from_pylist([row], schema=table.table.schema().as_arrow())
    table.table.overwrite(rows, overwrite_filter=f"sequence = {record.sequence}")


def audit_names_tamper(configuration: Configuration) -> str:
    """`mesh audit verify` names the rewritten record as the first broken link (raises if it does not)."""
    from mesh_audit.verify import open_stores, verify_stores

    tampered = _state(configuration).get("tampered") or {}
    report = verify_stores(*open_stores(settings_of(configuration)), settle_s=5)
    if report.broken is None or report.broken.sequence != tampered.get("sequence"):
        raise RuntimeError(f"verify did not name record {tampered.get('sequence')}: {report.broken}")
    named = f"sequence {report.broken.sequence} in {report.broken.store}: {report.broken.reason.value}"
    _remember(configuration, verify_named=named)
    return named


def restore_audit(configuration: Configuration) -> str:
    """The tampered record restored from the locked copy in the object store, which nobody can rewrite
    within its retention (S3 Object Lock)."""
    from mesh_audit.verify import both_copies, open_stores

    tampered = _state(configuration).get("tampered")
    if not tampered or tampered.get("restored"):
        return "nothing to restore"
    table, store = open_stores(settings_of(configuration))
    copies = both_copies(table, store, int(tampered["sequence"]))
    if copies.locked is None:
        raise RuntimeError(f"no locked copy of record {tampered['sequence']} to restore it from")
    if copies.differences():
        _rewrite(table, copies.locked)
    _remember(configuration, tampered=tampered | {"restored": True, "from": copies.location})
    return f"record {tampered['sequence']} restored from {copies.location}"


# --- probes --------------------------------------------------------------------------------------------


def _until(check: Any, within_s: float, pause_s: float = 1.0) -> bool:
    deadline = time.monotonic() + float(within_s)
    while True:
        try:
            if check():
                return True
        except (httpx.HTTPError, OSError, RuntimeError, KeyError, ValueError, KafkaException):
            pass  # a server still coming back: ask again
        if time.monotonic() > deadline:
            return False
        time.sleep(pause_s)


def product_answers(product: str, within_s: float, configuration: Configuration) -> bool:
    base = _base(settings_of(configuration), product)
    return _until(lambda: httpx.get(f"{base}/health", timeout=3).status_code == 200, within_s)


def _observations(configuration: Configuration, product: str) -> dict[str, Any]:
    answer = httpx.get(f"{_base(settings_of(configuration), product)}/observations", timeout=10)
    answer.raise_for_status()
    observed: dict[str, Any] = answer.json()
    return observed


def caught_up(product: str, within_s: float, configuration: Configuration) -> bool:
    """The product's consumer lag is zero (measured after a batch, at most every 5 s)."""
    time.sleep(6)
    return _until(lambda: sum(_observations(configuration, product)["consumer_lag"].values()) == 0, within_s)


def fresh(product: str, within_s: float, configuration: Configuration) -> bool:
    """End to end: a few new events reach the product's history within its freshness SLO."""
    settings = settings_of(configuration)
    objective: list[float] = []

    def read_slo() -> bool:
        objective.append(_slo(configuration, product))
        return True

    if not _until(read_slo, within_s):
        return False
    slo = objective[-1]
    marks = evidence.mark(settings)
    argv = [_mesh_command(), "generate", "playback", "--count", "5", "--rate", "50"]
    argv += ["--late-fraction", "0", "--duplicate-fraction", "0", "--malformed-fraction", "0"]
    subprocess.run(argv, env=settings.environment(), capture_output=True, check=True)
    sent = time.monotonic()
    if not _until(lambda: evidence.account(settings, marks).kept == 5, min(float(within_s), slo), pause_s=0.5):
        return False
    _remember(configuration, freshness_s=round(time.monotonic() - sent, 2), freshness_slo_s=slo)
    return True


def hold_and_observe(product: str, seconds: float, configuration: Configuration) -> str:
    """The fault holds for `seconds` while the product's observation port is read every second: the
    snapshots it commits meanwhile and how stale its data gets, which is what a learner watches (and
    shows that the fault bit: fewer, larger snapshots under latency, none under a partition)."""
    began = time.monotonic()
    seen: set[int] = set()
    added: list[int] = []
    stalest = 0.0
    first = True
    while True:
        try:
            observed = _observations(configuration, product)
        except (httpx.HTTPError, ValueError):
            observed = {}
        for snapshot in observed.get("snapshots", []):
            if snapshot["snapshot_id"] not in seen:
                seen.add(snapshot["snapshot_id"])
                if not first:
                    added.append(int(snapshot.get("added_rows") or 0))
        first = first and not observed
        stalest = max(stalest, float(observed.get("freshness_seconds") or 0.0))
        left = float(seconds) - (time.monotonic() - began)
        if left <= 0:
            break
        time.sleep(min(1.0, left))
    during = f"{len(added)} snapshot{'' if len(added) == 1 else 's'} in {float(seconds):g} s" + (
        f" ({', '.join(map(str, added))} rows)" if added else ""
    )
    during += f", data up to {stalest:.0f} s old"
    _remember(configuration, during_fault=during)
    return during


def read_history(product: str, seconds: float, configuration: Configuration) -> str:
    """An analyst reads the product for `seconds`, twice a second: its newest rows, and its rows as of
    its first snapshot (a time-travel read, which goes to the lakehouse rather than the in-memory copy).
    While storage is away a read may fail, but the product must go on answering."""
    from mesh_client.analyst import demo_access

    settings = settings_of(configuration)
    base = _base(settings, product)
    headers = {"Authorization": f"Bearer {demo_access(settings)}"}
    snapshots = httpx.get(f"{base}/snapshots", timeout=10).json()
    earliest = {"as_of": str(snapshots[0]["snapshot_id"])} if snapshots else {}
    counted: dict[str, int] = {}
    began = time.monotonic()
    while time.monotonic() - began < float(seconds):
        for params in ({}, earliest):
            try:
                status = str(
                    httpx.get(
                        f"{base}/history", params={**params, "limit": 20}, headers=headers, timeout=10
                    ).status_code
                )
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            counted[status] = counted.get(status, 0) + 1
        time.sleep(0.5)
    reads = ", ".join(f"{n} {status}" for status, n in sorted(counted.items()))
    _remember(configuration, reads_during_fault=reads)
    return reads


def poison_set_aside(at_least: int, configuration: Configuration) -> bool:
    """At least `at_least` messages since the mark are in the dead-letter topic, each with its reason."""
    state = _state(configuration)
    if "marks" not in state:
        return True
    marks = {t: {int(p): o for p, o in m.items()} for t, m in state["marks"].items()}
    dead = evidence.dead_letter_headers(settings_of(configuration), marks)
    kinds: dict[str, int] = {}
    for headers in dead:
        if not headers.get("mesh.dlq.reason"):
            return False
        kinds[headers.get("mesh.dlq.defect", "?")] = kinds.get(headers.get("mesh.dlq.defect", "?"), 0) + 1
    _remember(configuration, dead_letters=kinds)
    return len(dead) >= int(at_least)


def customers_match(within_s: float, configuration: Configuration) -> bool:
    """subscriptions.customers holds every customer of the monolith as the monolith has them now."""
    return comes_to_agree(configuration, "customers", evidence.customers_compared, within_s)


def comes_to_agree(
    configuration: Configuration, noted_as: str, compare: Callable[[MeshSettings], Any], within_s: float
) -> bool:
    """Until `compare` (a product against its sources) finds them the same, within the bound; the last
    comparison is noted in the run's state."""
    settings = settings_of(configuration)

    def same() -> bool:
        compared = compare(settings)
        _remember(configuration, **{noted_as: str(compared)})
        return bool(compared.same)

    return _until(same, within_s, pause_s=3.0)


def _slo(configuration: Configuration, product: str) -> float:
    return float(_observations(configuration, product)["slos"]["freshness"]["objective_seconds"])


def nothing_lost(within_s: float, configuration: Configuration) -> bool:
    """Every message sent since the mark is accounted for: set aside with a reason, or kept exactly once.
    Waits (within the bound) for the product to catch up; true before any mark (nothing sent yet)."""
    state = _state(configuration)
    if "marks" not in state:
        return True
    marks = {t: {int(p): o for p, o in m.items()} for t, m in state["marks"].items()}
    settings = settings_of(configuration)
    last: list[evidence.Accounting] = []

    def exact() -> bool:
        last[:] = [evidence.account(settings, marks)]
        return last[0].exact

    held = _until(exact, within_s, pause_s=3.0)
    if last:
        _remember(configuration, accounting=str(last[0]), exact=last[0].exact)
    return held


def audit_intact(within_s: float, configuration: Configuration) -> bool:
    """`mesh audit verify` finds the chain intact in both stores, and the stores agreeing."""
    from mesh_audit.verify import open_stores, verify_stores

    settings = settings_of(configuration)
    return _until(lambda: verify_stores(*open_stores(settings), settle_s=5).intact, within_s, pause_s=2.0)
