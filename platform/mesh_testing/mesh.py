"""The whole mesh in one test process: every product running in-process against a stack, after a burst
of playback traffic and legacy transactions. Shared by the end-to-end test and the derived products'
own tests, so the session starts it once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh_config import MeshSettings
from mesh_testing.products import eventually, running_product

SOURCE_ALIGNED = (
    "playback.events",
    "content.titles",
    "subscriptions.customers",
    "subscriptions.subscriptions",
    "crm.contacts",
)
DERIVED = (
    "engagement.viewing",
    "content-insights.kpis",
    "recommendations.next-title",
    "customers.customer-360",
    "customers.customer-profile",
)
PLAYBACK_EVENTS = 6_000
LEGACY_TRANSACTIONS = 100
CRM_CHANGES = 40


@dataclass
class RunningMesh:
    settings: MeshSettings
    products: dict[str, Any]  # runtimes by product name
    catalog: Any  # the data product catalog (a mesh_catalog.server.CatalogServer) they registered with

    def __getitem__(self, name: str) -> Any:
        return self.products[name]

    def caught_up(self) -> int:
        """Wait until the playback history has stopped growing and engagement has processed its newest
        snapshot; returns that snapshot's id."""
        playback = self.products["playback.events"]
        engagement = self.products["engagement.viewing"]

        def settled() -> int | None:
            before = playback.ingestor.table.refresh().current_snapshot()
            time.sleep(3)  # no batch for a while: the traffic is in
            after = playback.ingestor.table.refresh().current_snapshot()
            if before is None or after is None or before.snapshot_id != after.snapshot_id:
                return None
            engagement.refresh()
            snapshot: int = after.snapshot_id
            return snapshot if engagement.seen.get("playback") == snapshot else None

        return eventually(settled, attempts=60, pause_s=1)


@contextmanager
def whole_mesh(settings: MeshSettings, products: Path, customers: int, titles: int) -> Iterator[RunningMesh]:
    """The data product catalog and every product of `products` running (source-aligned first), then
    6,000 playback events (some late, some duplicated) from `customers` viewers over `titles` titles, 100
    legacy transactions and 40 changes in the CRM. Products report their runs every second, so lineage
    shows them at once."""
    from mesh_catalog.server import CatalogServer, access_path, state_path
    from mesh_generate import Imperfections, PlaybackSimulator, PlaybackTraffic, Population, send_traffic
    from mesh_generate.kafka_sink import KafkaPlaybackSink
    from mesh_generate.playback_sessions import Catalogue
    from mesh_sources.crm import CrmWorkload
    from mesh_sources.legacy import LegacyWorkload

    settings = settings.replaced(lineage_every_s=1.0)
    state_path(settings).unlink(missing_ok=True)  # an earlier session's registrations
    access_path(settings).unlink(missing_ok=True)  # and its consumers
    with ExitStack() as stack:
        catalog = CatalogServer(settings, pull_every_s=2.0)
        catalog.start()
        stack.callback(catalog.stop)
        runtimes = {
            name: stack.enter_context(running_product(products / name, settings, batch_interval_s=0.5))
            for name in (*SOURCE_ALIGNED, *DERIVED)
        }
        simulator = PlaybackSimulator(
            Catalogue.generate(titles),
            Population.generate(customers),
            concurrent_sessions=200,
            seed=5,
            start_ms=time.time_ns() // 10**6,
        )
        sink = KafkaPlaybackSink.connect(settings)
        traffic = PlaybackTraffic(simulator, Imperfections(late_fraction=0.02, duplicate_fraction=0.01), seed=5)
        send_traffic(traffic, sink, rate=400, count=PLAYBACK_EVENTS)
        with LegacyWorkload.connect(settings.postgres_dsn(settings.legacy_db), seed=5) as legacy:
            for _ in range(LEGACY_TRANSACTIONS):
                legacy.step()
        crm_dsn, legacy_dsn = settings.postgres_dsn(settings.crm_db), settings.postgres_dsn(settings.legacy_db)
        with CrmWorkload.connect(crm_dsn, legacy_dsn, seed=5) as crm:
            for _ in range(CRM_CHANGES):
                crm.step()
        yield RunningMesh(settings, runtimes, catalog)
