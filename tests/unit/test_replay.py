"""A refresh run again from one earlier refresh's inputs: only a product whose state comes from its
pinned inputs alone can be; the others are told why, before anything is read."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mesh_config import load_settings
from mesh_sdk.derive.replay import KeptArtifacts, NotReplayable, replay

PRODUCTS = Path(__file__).resolve().parents[2] / "products"


class Store:
    def __init__(self) -> None:
        self.stored = {("v1", "card.json"): b"{}"}

    def put(self, version: str, name: str, data: bytes, content_type: str = "") -> str:
        raise AssertionError("a replay stores nothing")

    def get(self, version: str, name: str) -> bytes:
        return self.stored[(version, name)]

    def versions(self) -> list[str]:
        return ["v1"]

    def delete(self, version: str) -> None:
        raise AssertionError("a replay never deletes from the product's store")


def test_a_product_with_state_across_refreshes_or_missing_snapshots_is_refused() -> None:
    now = datetime.now(UTC)
    with pytest.raises(NotReplayable, match="increments"):
        replay(load_settings(), PRODUCTS / "engagement.viewing", {"playback": 1}, now, Store())
    with pytest.raises(NotReplayable, match="titles"):
        replay(load_settings(), PRODUCTS / "recommendations.next-title", {"sessions": 1}, now, Store())
    with pytest.raises(NotReplayable, match="not a derived product"):
        replay(load_settings(), PRODUCTS / "playback.events", {}, now, Store())


def test_what_a_replay_stores_stays_in_memory_and_the_rest_is_read_through() -> None:
    kept = KeptArtifacts(Store())
    assert kept.put("v2", "model.npz", b"weights") == "memory://v2/model.npz"
    assert kept.get("v2", "model.npz") == b"weights" and kept.get("v1", "card.json") == b"{}"
    assert kept.versions() == ["v1", "v2"]
