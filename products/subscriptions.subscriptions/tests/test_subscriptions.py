"""subscriptions.subscriptions against the real legacy database: the current subscriptions follow
every business transaction, and each change is in the history once (its example queries run in
tests/integration/test_example_queries.py, with every product's)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sources.legacy import LegacyWorkload
from mesh_testing.products import eventually, state_matches

from .conftest import COLUMNS, database_subscriptions

pytestmark = pytest.mark.integration


def test_after_a_workload_the_subscriptions_equal_the_database_and_every_change_is_kept_once(
    subscriptions_product: SourceAlignedRuntime,
) -> None:
    settings = subscriptions_product.settings
    eventually(lambda: state_matches(subscriptions_product, database_subscriptions(settings), COLUMNS), attempts=300)
    start = datetime.now(UTC)
    with LegacyWorkload.connect(settings.postgres_dsn(settings.legacy_db), seed=41) as workload:
        for _ in range(300):
            workload.step()
        counts = workload.counts
    eventually(lambda: state_matches(subscriptions_product, database_subscriptions(settings), COLUMNS), attempts=300)
    expected = {
        op: counts.rows[("subscriptions", name)] for op, name in (("c", "insert"), ("u", "update"), ("d", "delete"))
    }

    def changes() -> dict[str, int]:
        rows = subscriptions_product.ingestor.table.refresh().scan().to_arrow().to_pylist()
        window = [r for r in rows if r["ingested_at"] > start]
        return {op: sum(1 for r in window if r["op"] == op) for op in "cud"}

    eventually(lambda: changes() == expected, attempts=150)
    keys = subscriptions_product.ingestor.table.scan(selected_fields=("position", "subscription_id")).to_arrow()
    pairs = list(zip(keys["position"].to_pylist(), keys["subscription_id"].to_pylist(), strict=True))
    assert len(pairs) == len(set(pairs)), "no change twice"
