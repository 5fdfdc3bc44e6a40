"""What the catalog keeps across restarts, as plain JSON data: each registered product's URL, the last
document it served and its availability. Pure: reading and writing the file is the store adapter's job.

The URLs are what matters (the catalog's pull cannot find a product it never heard of); the documents
let a restarted catalog show a product that is down as it was last seen, rather than not at all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from mesh_catalog.registry import Catalog
from mesh_discovery.entries import CatalogEntry, MalformedDocument, Status

VERSION = 1


class UnreadableState(ValueError):
    """Saved state the catalog cannot read; `where` is a path like `products[2].last_seen`."""

    def __init__(self, where: str, problem: str) -> None:
        self.where, self.problem = where, problem
        super().__init__(f"{where} {problem}")


@dataclass(frozen=True)
class SavedProduct:
    url: str
    document: dict[str, Any]
    status: Status
    last_seen: datetime
    last_error: str | None = None
    unavailable_since: datetime | None = None
    accepted_contract: dict[str, Any] | None = None


def dump_state(entries: Iterable[CatalogEntry]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "products": [
            {
                "url": e.url,
                "status": e.availability.status.value,
                "last_seen": e.availability.last_seen.isoformat(),
                "last_error": e.availability.last_error,
                "unavailable_since": _iso(e.availability.unavailable_since),
                "document": e.document,
                "accepted_contract": e.accepted_contract,
            }
            for e in entries
        ],
    }


def without_times(state: dict[str, Any]) -> dict[str, Any]:
    """The state minus `last_seen`, which every answered pull moves: a change worth writing to disk is
    a registration, a new document or a change of availability, not another successful pull."""
    return {**state, "products": [{k: v for k, v in p.items() if k != "last_seen"} for p in state["products"]]}


def load_state(data: Any) -> list[SavedProduct]:
    if not isinstance(data, dict):
        raise UnreadableState("<root>", "is not an object")
    if data.get("version") != VERSION:
        raise UnreadableState("version", f"is {data.get('version')!r}, expected {VERSION}")
    products = data.get("products")
    if not isinstance(products, list):
        raise UnreadableState("products", "is not a list")
    return [_saved(p, f"products[{i}]") for i, p in enumerate(products)]


def restore(catalog: Catalog, saved: Iterable[SavedProduct]) -> list[tuple[SavedProduct, MalformedDocument]]:
    """Put saved products back into `catalog` as they were; returns those whose document no longer
    reads (the reader may have become stricter), for the caller to report: they are not restored."""
    refused = []
    for product in saved:
        try:
            entry = catalog.register(product.document, product.url, product.last_seen)
        except MalformedDocument as exc:
            refused.append((product, exc))
            continue
        entry = catalog.put(replace(entry, accepted_contract=product.accepted_contract))
        if product.status is Status.UNAVAILABLE:
            since = product.unavailable_since or product.last_seen
            catalog.unreachable(entry.id, product.last_error or "unavailable when the catalog last ran", since)
    return refused


def _saved(p: Any, where: str) -> SavedProduct:
    if not isinstance(p, dict):
        raise UnreadableState(where, "is not an object")
    url, document = p.get("url"), p.get("document")
    if not isinstance(url, str) or not url:
        raise UnreadableState(f"{where}.url", "is missing")
    if not isinstance(document, dict):
        raise UnreadableState(f"{where}.document", "is not an object")
    try:
        status = Status(str(p.get("status")))
    except ValueError:
        raise UnreadableState(f"{where}.status", f"is {p.get('status')!r}") from None
    last_seen = _time(p.get("last_seen"), f"{where}.last_seen")
    if last_seen is None:
        raise UnreadableState(f"{where}.last_seen", "is missing")
    error = p.get("last_error")
    return SavedProduct(
        url,
        document,
        status,
        last_seen,
        error if isinstance(error, str) else None,
        _time(p.get("unavailable_since"), f"{where}.unavailable_since"),
        accepted if isinstance(accepted := p.get("accepted_contract"), dict) else None,
    )


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise UnreadableState(where, f"is {value!r}, expected an ISO 8601 time") from None


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
