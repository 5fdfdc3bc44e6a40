"""Which products reach the broker or S3 through Toxiproxy. The normal path never does: a network fault
restarts the product under test with its endpoints on the proxies (before its steady state is checked,
so that before and after are measured on the same path), and its rollback restarts it on the direct
endpoints. A product's route is remembered beside its pid file, with the pid it was started as: a
product restarted since by anything else (`mesh start`, a lab) is on the direct path again."""

from __future__ import annotations

import json
from pathlib import Path

from mesh_config import MeshSettings
from mesh_stack.assembly import product_ports
from mesh_stack.products import PREFIX, running_products, start_product, stop_product
from mesh_stack.toxiproxy import UPSTREAMS, start_toxiproxy, stop_toxiproxy, through_proxies


def _route_file(settings: MeshSettings, product: str) -> Path:
    return settings.home / "run" / f"{PREFIX}{product}.route.json"


def _pid(settings: MeshSettings, product: str) -> int | None:
    for process in running_products(settings):
        if process.name == f"{PREFIX}{product}":
            return process.pid
    return None


def routed_through(settings: MeshSettings, product: str) -> list[str]:
    """The upstreams the running product reaches through Toxiproxy ([]: all directly, or not running)."""
    try:
        route = json.loads(_route_file(settings, product).read_text())
    except (OSError, ValueError):
        return []
    pid = _pid(settings, product)
    return sorted(route["through"]) if pid is not None and route.get("pid") == pid else []


def route(settings: MeshSettings, product: str, through: list[str]) -> str:
    """Make the product reach `through` (a subset of kafka, s3) via Toxiproxy and the rest directly,
    restarting it only if it runs another way (or not at all). Idempotent."""
    wanted = sorted(set(through))
    unknown = set(wanted) - set(UPSTREAMS)
    if unknown:
        raise ValueError(f"no Toxiproxy proxy for {', '.join(sorted(unknown))}; there are {', '.join(UPSTREAMS)}")
    running = _pid(settings, product) is not None
    if running and routed_through(settings, product) == wanted:
        return f"{product} already reaches {_described(wanted)}"
    if wanted:
        start_toxiproxy(settings)
    if running:
        stop_product(settings, product)
    _route_file(settings, product).unlink(missing_ok=True)
    start_product(through_proxies(settings, wanted), settings.products_dir / product, product_ports(settings, product))
    if wanted:
        _route_file(settings, product).write_text(json.dumps({"through": wanted, "pid": _pid(settings, product)}))
    return f"{product} restarted: it reaches {_described(wanted)}"


def _described(through: list[str]) -> str:
    return f"{' and '.join(through)} through Toxiproxy" if through else "the broker and S3 directly"


def unroute_all(settings: MeshSettings) -> list[str]:
    """Every product back on the direct path, and Toxiproxy stopped: nothing of a network fault left."""
    restored = []
    for process in running_products(settings):
        product = process.name.removeprefix(PREFIX)
        if routed_through(settings, product):
            route(settings, product, [])
            restored.append(product)
        _route_file(settings, product).unlink(missing_ok=True)
    stop_toxiproxy(settings)
    return restored
