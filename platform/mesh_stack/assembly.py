"""The local mesh assembled from its parts: the stack, change capture of the operational databases, the
audit log, the catalog, and products on their ports, each started only if it is not already running.
`mesh demo` brings up all of it; `mesh lab start` only what a lab's profile names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from mesh_config import MeshSettings
from mesh_stack.products import ProductPorts, start_product

Say = Callable[[str], None]

# The products `mesh demo` runs, in start order; each on the next REST and SQL port (settings).
DEMO_PRODUCTS = (
    "playback.events",
    "subscriptions.customers",
    "content.titles",
    "subscriptions.subscriptions",
    "engagement.viewing",
    "content-insights.kpis",
    "recommendations.next-title",
    "crm.contacts",
    "customers.customer-360",
    "customers.customer-profile",
)
# The products that read playback.events' history: `mesh demo` starts them once the history is in.
HISTORY_READERS = (
    "engagement.viewing",
    "content-insights.kpis",
    "recommendations.next-title",
    "customers.customer-profile",
)
# Room for products a learner builds beside them (their ports follow the demo's).
EXTRA_PRODUCT_SLOTS = 10


def demo_ports(settings: MeshSettings) -> dict[str, ProductPorts]:
    return {name: _ports(settings, i) for i, name in enumerate(DEMO_PRODUCTS)}


def _ports(settings: MeshSettings, slot: int) -> ProductPorts:
    return ProductPorts(settings.products_http_port + slot, settings.products_sql_port + slot)


def product_ports(settings: MeshSettings, name: str) -> ProductPorts:
    """The ports a product runs on in the local mesh: the demo's products on theirs, any other product
    on a slot after them chosen by its name (stable across restarts)."""
    if name in DEMO_PRODUCTS:
        return _ports(settings, DEMO_PRODUCTS.index(name))
    import zlib

    return _ports(settings, len(DEMO_PRODUCTS) + zlib.crc32(name.encode()) % EXTRA_PRODUCT_SLOTS)


def ensure_capture(settings: MeshSettings, sources: Iterable[str], customers: int = 10_000, titles: int = 500) -> None:
    """Install and seed each operational database (once), then its Debezium connector; idempotent."""
    from mesh_sources.capture import SOURCES, start_source
    from mesh_sources.installers import installers

    install = installers(settings, customers=customers, titles=titles)
    by_name = {s.name: s for s in SOURCES}
    for name in sources:
        if name not in by_name:
            raise ValueError(f"no operational source {name!r}; choose from {', '.join(by_name)}")
        start_source(by_name[name], settings, install.get(name))


def ensure_services(settings: MeshSettings, *, audit: bool, catalog: bool) -> None:
    """The audit log and the catalog, the catalog before any product (each registers at start)."""
    from mesh_stack.audit_service import start_audit
    from mesh_stack.catalog_service import start_catalog

    if audit:
        start_audit(settings)
    if catalog:
        start_catalog(settings)


def ensure_products(settings: MeshSettings, names: Iterable[str], say: Say = lambda _: None) -> dict[str, str]:
    """Start products side by side (each its own process), and wait until every one answers; returns
    their base URLs. Raises the first product's failure (ComponentFailed names its log)."""
    wanted = list(names)
    if not wanted:
        return {}
    with ThreadPoolExecutor(len(wanted)) as pool:
        started = {
            name: pool.submit(start_product, settings, settings.products_dir / name, product_ports(settings, name))
            for name in wanted
        }
        urls = {}
        for name, future in started.items():
            urls[name] = future.result()
            say(f"{name} is running: {urls[name]}  (log: mesh logs product-{name})")
    return urls
