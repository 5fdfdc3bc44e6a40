"""`mesh doctor`: a pre-flight a workshop participant runs a week before. Each finding says what was
seen, whether it is enough, and how to fix it; the summary is one line a trainer can collect."""

from __future__ import annotations

import platform
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil

from mesh_config import MeshSettings
from mesh_stack.errors import StackError
from mesh_stack.java import ARTIFACTS as JAR_SETS
from mesh_stack.java import JvmArtifact, find_java, java_major_version
from mesh_stack.ports import is_free

Verdict = Literal["ok", "warn", "fail"]
GB = 2**30
# Measured: the stack with one or two products (most labs) holds about 2.5 GB; the whole demo mesh 5.8 GB.
LAB_MEMORY_GB = 3.0
WHOLE_MESH_MEMORY_GB = 6.0
DISK_GB = 5.0


@dataclass(frozen=True)
class Finding:
    what: str
    verdict: Verdict
    seen: str
    fix: str = ""


def _python() -> Finding:
    # The project installs only on 3.11+ (pyproject), so an interpreter that runs this is recent enough.
    return Finding("python", "ok", f"{platform.python_version()} ({sys.executable})")


def _java(settings: MeshSettings) -> Finding:
    try:
        java = find_java(settings.java_home)
    except StackError as exc:
        return Finding("java", "fail", "none usable", str(exc))
    return Finding("java", "ok", f"{java_major_version(java)} ({java})")


def _memory() -> Finding:
    memory = psutil.virtual_memory()
    seen = f"{memory.available / GB:.1f} GB available of {memory.total / GB:.1f} GB"
    if memory.available / GB >= WHOLE_MESH_MEMORY_GB:
        return Finding("memory", "ok", seen)
    if memory.available / GB >= LAB_MEMORY_GB:
        return Finding(
            "memory", "warn", seen, f"enough for the labs; `mesh demo` wants {WHOLE_MESH_MEMORY_GB:.0f} GB free"
        )
    return Finding("memory", "fail", seen, f"close programs: a lab needs about {LAB_MEMORY_GB:.0f} GB free")


def _disk(settings: MeshSettings) -> Finding:
    where = next((p for p in (settings.home, *settings.home.parents) if p.exists()), Path("/"))
    free = shutil.disk_usage(where).free / GB
    seen = f"{free:.0f} GB free at {where}"
    return Finding("disk", "ok", seen) if free >= DISK_GB else Finding("disk", "fail", seen, f"free {DISK_GB:.0f} GB")


def ports(settings: MeshSettings) -> dict[str, int]:
    named = {
        "postgres": settings.postgres_port,
        "s3": settings.s3_port,
        "s3-master": settings.s3_master_port,
        "s3-volume": settings.s3_volume_port,
        "s3-filer": settings.s3_filer_port,
        "s3-admin": settings.s3_admin_port,
        "s3-access-log": settings.s3_access_log_port,
        "kafka": settings.kafka_port,
        "kafka-controller": settings.kafka_controller_port,
        "kafka-proxied": settings.kafka_proxied_listener_port,
        "toxiproxy": settings.toxiproxy_port,
        "toxiproxy-kafka": settings.toxiproxy_kafka_port,
        "toxiproxy-s3": settings.toxiproxy_s3_port,
        "registry": settings.registry_port,
        "registry-management": settings.registry_management_port,
        "connect": settings.connect_port,
        "catalog": settings.product_catalog_port,
    }
    for slot in range(7):
        named[f"product-{slot + 1}-http"] = settings.products_http_port + slot
        named[f"product-{slot + 1}-sql"] = settings.products_sql_port + slot
    return named


def _ports(settings: MeshSettings, mesh_running: bool) -> Finding:
    wanted = ports(settings)
    taken = [f"{name} {port}" for name, port in wanted.items() if not is_free(settings.host, port)]
    seen = f"{len(wanted) - len(taken)}/{len(wanted)} free"
    if not taken:
        return Finding("ports", "ok", seen)
    if mesh_running:
        return Finding("ports", "ok", f"{seen}; the others are the running mesh's")
    return Finding("ports", "fail", f"{seen}; taken: {', '.join(taken)}", "stop what holds them, or set MESH_*_PORT")


def _caches(settings: MeshSettings) -> Finding:
    resolved = [n for n in JAR_SETS if JvmArtifact(n).is_resolved(settings.cache_dir)]
    jars = settings.cache_dir / "jvm"
    size = sum(f.stat().st_size for f in jars.rglob("*") if f.is_file()) / 2**20 if jars.exists() else 0
    seen = f"{len(resolved)}/{len(JAR_SETS)} jar sets in {settings.cache_dir} ({size:.0f} MB)"
    if len(resolved) == len(JAR_SETS):
        return Finding("caches", "ok", f"warm: {seen}")
    if shutil.which("mvn") is None:
        return Finding("caches", "fail", f"cold: {seen}; no Maven", "install Maven, or `mesh bundle import DIR`")
    return Finding("caches", "warn", f"cold: {seen}", "`mesh up` once on a good network downloads about 270 MB")


def examine(settings: MeshSettings, mesh_running: Callable[[], bool]) -> list[Finding]:
    return [
        _python(),
        _java(settings),
        _memory(),
        _disk(settings),
        _ports(settings, mesh_running()),
        _caches(settings),
    ]


def summary(findings: list[Finding]) -> str:
    """One line: READY, READY with warnings, or NOT READY, then each finding in a few words."""
    failing = [f for f in findings if f.verdict == "fail"]
    warned = [f for f in findings if f.verdict == "warn"]
    head = "NOT READY" if failing else ("READY (with warnings)" if warned else "READY")
    parts = [f"{f.what} {f.seen}" + ("" if f.verdict == "ok" else f" [{f.verdict}]") for f in findings]
    return f"mesh doctor: {head} · {platform.node()} · " + " · ".join(parts)
