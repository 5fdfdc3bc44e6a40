"""The catalog's use cases: a product's push, the catalog's pull, and the questions people ask it.

This layer knows no HTTP and no files: it talks to its outside through two ports, a `DocumentSource`
(reads a product's discovery document) and a `StateStore` (keeps the registrations across restarts),
so the same code runs behind the REST API, in the pull thread and in unit tests with fakes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from mesh_catalog.entries import CatalogEntry, MalformedDocument, Status
from mesh_catalog.lineage import Edge, LineageGraph, Node
from mesh_catalog.records import dump_state, load_state, restore, without_times
from mesh_catalog.registry import Catalog
from mesh_catalog.search import Hit, search

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class FetchFailed(Exception):
    """A discovery port that did not answer with a document; the message names the URL and why."""

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        super().__init__(f"{url} {reason}")


class DocumentSource(Protocol):
    def fetch(self, url: str) -> Any:
        """The discovery document served at `url` (a product's base URL); raises FetchFailed."""
        ...


class StateStore(Protocol):
    def load(self) -> Any | None:
        """The saved state as plain data, or None when there is none yet."""
        ...

    def save(self, state: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class PullReport:
    refreshed: list[str]
    unavailable: list[str]


class CatalogService:
    def __init__(self, source: DocumentSource, store: StateStore, clock: Clock = lambda: datetime.now(UTC)) -> None:
        self.catalog = Catalog()
        self._source, self._store, self._now = source, store, clock
        # The API's worker threads and the pull thread share the catalog: every read and write holds this
        # lock, never while waiting on the network.
        self._lock = threading.RLock()
        self._saved: dict[str, Any] | None = None

    # --- start ------------------------------------------------------------------------------------------

    def load(self) -> int:
        """Reload the registrations saved by a previous run; returns how many came back. An unreadable
        file is an error (starting empty would silently forget every product)."""
        data = self._store.load()
        if data is None:
            return 0
        with self._lock:
            for product, exc in restore(self.catalog, load_state(data)):
                log.warning("not restoring %s: %s", product.url, exc)
            self._saved = without_times(dump_state(self.catalog.all()))
            return len(self.catalog.all())

    # --- push -------------------------------------------------------------------------------------------

    def register_url(self, url: str) -> CatalogEntry:
        """A product's push by URL: the catalog reads the document itself, so what it lists is what the
        product really serves. Raises FetchFailed or MalformedDocument."""
        return self.register_document(self._source.fetch(url), url)

    def register_document(self, document: Any, url: str) -> CatalogEntry:
        with self._lock:
            entry = self.catalog.register(document, url, self._now())
            self._persist()
        log.info("registered %s at %s", entry.id, url)
        return entry

    # --- pull -------------------------------------------------------------------------------------------

    def pull(self) -> PullReport:
        """Re-read every registered product's discovery port once. A product that does not answer, or
        answers with a document the catalog cannot read, stays listed, marked unavailable."""
        with self._lock:
            targets = [(e.id, e.url) for e in self.catalog.all()]
        report = PullReport([], [])
        for product_id, url in targets:
            try:
                document, error = self._source.fetch(url), None
            except FetchFailed as exc:
                document, error = None, str(exc)
            with self._lock:
                if self.catalog.get(product_id).url != url:
                    continue  # it registered again from elsewhere while this pull was reading
                was = self.catalog.get(product_id).availability.status
                if error is None:
                    try:
                        self.catalog.refreshed(product_id, document, self._now())
                    except MalformedDocument as exc:
                        error = str(exc)
                if error is not None:
                    self.catalog.unreachable(product_id, error, self._now())
            if error is None:
                report.refreshed.append(product_id)
                if was is Status.UNAVAILABLE:
                    log.info("%s answers again at %s", product_id, url)
            else:
                report.unavailable.append(product_id)
                if was is Status.AVAILABLE:
                    log.warning("%s is unavailable: %s", product_id, error)
        with self._lock:
            self._persist()
        return report

    # --- questions --------------------------------------------------------------------------------------

    def entries(
        self, *, domain: str | None = None, type: str | None = None, status: Status | None = None
    ) -> list[CatalogEntry]:
        with self._lock:
            entries = self.catalog.all()
        return [
            e
            for e in entries
            if (domain is None or e.domain == domain)
            and (type is None or e.type == type)
            and (status is None or e.availability.status is status)
        ]

    def entry(self, product_id: str) -> CatalogEntry:
        """Raises UnknownProduct."""
        with self._lock:
            return self.catalog.get(product_id)

    def search(self, query: str, *, domain: str | None = None, type: str | None = None) -> list[Hit]:
        return search(self.entries(), query, domain=domain, type=type)

    def domains(self) -> dict[str, list[str]]:
        with self._lock:
            return self.catalog.domains()

    def lineage(self) -> LineageGraph:
        return LineageGraph.build(self.entries())

    def lineage_of(self, node_id: str) -> tuple[Node, list[Edge], list[Edge]]:
        """The node with every edge up to it and down from it; raises UnknownNode."""
        graph = self.lineage()
        upstream = graph.upstream(node_id)
        return graph.nodes[node_id], upstream, graph.downstream(node_id)

    # --- state ------------------------------------------------------------------------------------------

    def _persist(self) -> None:
        """Write the registrations when they changed (caller holds the lock). A failed write is logged
        and retried at the next change or pull: the catalog keeps serving from memory."""
        state = dump_state(self.catalog.all())
        unchanged = without_times(state)
        if unchanged == self._saved:
            return
        try:
            self._store.save(state)
        except OSError as exc:
            log.warning("could not save the catalog's registrations: %s", exc)
            return
        self._saved = unchanged
