"""The catalog's entries, kept current by pushes (a product registering) and pulls (the catalog re-reading a
discovery port). Nothing is ever deleted: a product that goes away stays, marked unavailable, so its
consumers can still see what it was and when it was last seen."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from mesh_discovery.entries import Availability, CatalogEntry, MalformedDocument, Status, parse_entry


class UnknownProduct(LookupError):
    def __init__(self, product_id: str) -> None:
        self.product_id = product_id
        super().__init__(f"no product {product_id!r} in the catalog")


class Catalog:
    def __init__(self) -> None:
        self._entries: dict[str, CatalogEntry] = {}

    def register(self, doc: Any, url: str, now: datetime) -> CatalogEntry:
        """A product's push: its document replaces whatever the catalog held for its id."""
        return self.put(parse_entry(doc, url, now))

    def put(self, entry: CatalogEntry) -> CatalogEntry:
        """An entry read (and checked) by the caller replaces whatever the catalog held for its id."""
        self._entries[entry.id] = entry
        return entry

    def remove(self, product_id: str) -> CatalogEntry:
        """Raises UnknownProduct."""
        entry = self.get(product_id)
        del self._entries[entry.id]
        return entry

    def refreshed(self, product_id: str, doc: Any, now: datetime) -> CatalogEntry:
        """A pull answered: the document read from the entry's own URL."""
        held = self.get(product_id)
        entry = parse_entry(doc, held.url, now)
        if entry.id != product_id:
            # Another product now answers at this URL; registering it is its own push's job.
            raise MalformedDocument("descriptor.id", f"is {entry.id!r}, expected {product_id!r}", held.url)
        # What a pull reads was never accepted: only a registration moves the promise.
        entry = replace(entry, accepted_contract=held.accepted_contract)
        self._entries[product_id] = entry
        return entry

    def unreachable(self, product_id: str, error: str, now: datetime) -> CatalogEntry:
        """A pull failed: keep the entry as it was last seen, marked unavailable with the reason."""
        entry = self.get(product_id)
        seen = entry.availability
        # Repeated failures keep the time of the first: "unavailable since" is what an owner needs to know.
        since = seen.unavailable_since or now
        marked = replace(entry, availability=Availability(Status.UNAVAILABLE, seen.last_seen, error, since))
        self._entries[product_id] = marked
        return marked

    def get(self, product_id: str) -> CatalogEntry:
        try:
            return self._entries[product_id]
        except KeyError:
            raise UnknownProduct(product_id) from None

    def __contains__(self, product_id: object) -> bool:
        return product_id in self._entries

    def all(self) -> list[CatalogEntry]:
        return sorted(self._entries.values(), key=lambda e: e.id)

    def domains(self) -> dict[str, list[str]]:
        """Each domain with the ids of its products, both sorted."""
        out: dict[str, list[str]] = {}
        for entry in self.all():
            out.setdefault(entry.domain, []).append(entry.id)
        return dict(sorted(out.items()))
