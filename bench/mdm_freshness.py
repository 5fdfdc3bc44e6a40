"""How soon a change in either system reaches customer-360, under the demo's traffic.

A private stack with the demo's sources (10,000 customers in the monolith, the CRM typed from them),
subscriptions.customers, crm.contacts and customers.customer-360 running as `mesh start` runs them. Then
the demo's traffic for a while: the monolith's transactions at 20 a second and customer care's changes
at 2 a second. Every customer and contact the traffic changes is timed from its commit (its updated_at
in the source database) until customer-360's cross-reference holds that version of the record
(source_changed_at), which is when its golden record has been recomputed too (one refresh commits both).
Baseline, in the same run: until the source-aligned product's current state holds that version (what
capture and ingestion alone cost).

    .venv/bin/python -m bench.mdm_freshness [--seconds 120]

Results: bench/results/mdm_freshness.json (a private stack on ports from 20800, stopped at the end).
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import datetime
from typing import Any

import httpx
import psycopg

from bench.common import ROOT, bench_stack, console, percentile, write_results
from mesh_config import MeshSettings
from mesh_sources.capture import CRM, LEGACY, start_source
from mesh_sources.crm import CrmWorkload
from mesh_sources.installers import installers
from mesh_sources.legacy import LegacyWorkload
from mesh_sources.running import run_workload
from mesh_stack.products import ProductPorts, start_product, stop_products
from mesh_testing.products import table_rows

BASE_PORT = 20800
PRODUCTS = {
    "subscriptions.customers": ProductPorts(BASE_PORT + 70, BASE_PORT + 71),
    "crm.contacts": ProductPorts(BASE_PORT + 72, BASE_PORT + 73),
    "customers.customer-360": ProductPorts(BASE_PORT + 74, BASE_PORT + 75),
}
TABLES = {"subscriptions": "subscriptions.customers_customers_v1", "crm": "crm.contacts_contacts_v1"}
KEYS = {"subscriptions": "customer_id", "crm": "contact_id"}
XREF = "customers.customer_360_xref_v1"


def _versions(settings: MeshSettings, since: datetime) -> dict[tuple[str, str], datetime]:
    """Each record the traffic changed since `since`, at the version its database holds now."""
    found: dict[tuple[str, str], datetime] = {}
    for system, (db, table, key) in {
        "subscriptions": (settings.legacy_db, "customers", "customer_id"),
        "crm": (settings.crm_db, "contacts", "contact_id"),
    }.items():
        with psycopg.connect(settings.postgres_dsn(db)) as conn:
            rows = conn.execute(f"SELECT {key}, updated_at FROM {table} WHERE updated_at > %s", (since,)).fetchall()
        found |= {(system, str(k)): at for k, at in rows}
    return found


def _held(settings: MeshSettings) -> tuple[dict[tuple[str, str], datetime], dict[tuple[str, str], datetime]]:
    """The version of each record the source-aligned products hold, and the one customer-360's
    cross-reference holds."""
    products: dict[tuple[str, str], datetime] = {}
    for system, table in TABLES.items():
        for row in table_rows(settings, table):
            products[(system, str(row[KEYS[system]]))] = row["updated_at"]
    xref = {(r["source"], r["source_id"]): r["source_changed_at"] for r in table_rows(settings, XREF)}
    return products, xref


def _traffic(settings: MeshSettings, seconds: float, stop: threading.Event) -> None:
    legacy_dsn, crm_dsn = settings.postgres_dsn(settings.legacy_db), settings.postgres_dsn(settings.crm_db)

    def run(workload: Any, rate: float) -> None:
        with workload:
            run_workload(workload.step, rate=rate, count=None, duration_s=seconds, on_progress=lambda _: None)

    threads = [
        threading.Thread(target=run, args=(LegacyWorkload.connect(legacy_dsn, seed=31), 20.0)),
        threading.Thread(target=run, args=(CrmWorkload.connect(crm_dsn, legacy_dsn, seed=31), 2.0)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()


def measure(settings: MeshSettings, seconds: float) -> dict[str, Any]:
    install = installers(settings, customers=10_000, titles=500)
    for source in (LEGACY, CRM):
        start_source(source, settings, install[source.name])
    for name, ports in PRODUCTS.items():
        start_product(settings, ROOT / "products" / name, ports)
    hub = f"http://127.0.0.1:{PRODUCTS['customers.customer-360'].http}/"
    with console.status("customer-360's first match of every record"):
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            records = (httpx.get(hub, timeout=30).json().get("derivation") or {}).get("master_data", {}).get("records")
            if records and records > 20_000:
                break
            time.sleep(2)
    time.sleep(10)  # the initial load's refreshes settle
    began_at = datetime.now().astimezone()
    stop = threading.Event()
    traffic = threading.Thread(target=_traffic, args=(settings, seconds, stop))
    traffic.start()
    seen_product: dict[tuple[str, str, datetime], float] = {}
    seen_hub: dict[tuple[str, str, datetime], float] = {}
    quiet_until = None
    with console.status(f"the demo's traffic for {seconds:.0f} s, polling every record's version") as status:
        while quiet_until is None or time.monotonic() < quiet_until:
            now = time.time()
            versions = _versions(settings, began_at)
            products, xref = _held(settings)
            for (system, key), at in versions.items():
                version = (system, key, at)
                if products.get((system, key)) == at:
                    seen_product.setdefault(version, now)
                if xref.get((system, key)) == at:
                    seen_hub.setdefault(version, now)
            if stop.is_set() and quiet_until is None:
                quiet_until = time.monotonic() + 30  # the last changes reach the products
            status.update(f"{len(versions)} records changed; {len(seen_hub)} versions reached customer-360")
            time.sleep(0.5)
    traffic.join()
    hub_latency = [seen - at.timestamp() for (_, _, at), seen in seen_hub.items()]
    product_latency = [seen - at.timestamp() for (_, _, at), seen in seen_product.items()]
    return {
        "seconds_of_traffic": seconds,
        "versions_reached": {"customer-360": len(seen_hub), "source-aligned products": len(seen_product)},
        "customer_360": _summary(hub_latency),
        "baseline_source_products": _summary(product_latency),
    }


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_s": percentile(values, 50), "p99_s": percentile(values, 99), "max_s": max(values, default=0.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="how long the traffic runs")
    args = parser.parse_args()
    with bench_stack("bench-mdm", BASE_PORT) as settings:
        try:
            result = measure(settings, args.seconds)
        finally:
            stop_products(settings)
    hub, base = result["customer_360"], result["baseline_source_products"]
    console.print(
        f"a change to customer-360: p50 {hub['p50_s']:.1f} s, p99 {hub['p99_s']:.1f} s; to its source-aligned "
        f"product (baseline): p50 {base['p50_s']:.1f} s, p99 {base['p99_s']:.1f} s; ratio p50 "
        f"{hub['p50_s'] / base['p50_s']:.2f}, p99 {hub['p99_s'] / base['p99_s']:.2f}"
    )
    write_results("mdm_freshness", result | {"ratio_to_baseline": {
        "p50": hub["p50_s"] / base["p50_s"], "p99": hub["p99_s"] / base["p99_s"]}})  # fmt: skip


if __name__ == "__main__":
    main()
