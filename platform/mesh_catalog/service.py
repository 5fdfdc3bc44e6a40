"""The catalog's use cases: a product's push, the catalog's pull, and the questions people ask it.

This layer knows no HTTP and no files: it talks to its outside through two ports, a `DocumentSource`
(reads a product's discovery document) and a `StateStore` (keeps the registrations across restarts),
so the same code runs behind the REST API, in the pull thread and in unit tests with fakes.

Observations: each pull also reads the observation port of every product that answered (`GET
<url>/observations`). The latest report is kept in memory only, for the scorecards: a report that could
not be read, or a product that did not answer, leaves its observations unknown until the next pull.

Governance: every document is evaluated against the mesh's policies (given as a `PolicySet`). A push
with a `refuse` violation is refused (`RegistrationRefused`) and changes nothing; otherwise its
violations (warnings) are kept with the product. Pulls and restarts re-evaluate, and only record: a
product that starts violating a policy after it registered stays listed, with its violations.

Lineage: products send OpenLineage run events (`record_run_event`); each job's latest run is kept with
the registrations, so a restarted catalog still shows what the runs observed."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from mesh_catalog.column_graph import ColumnEdge, ColumnGraph, ColumnNode
from mesh_catalog.lineage import Edge, LineageGraph, Node
from mesh_catalog.records import dump_state, load_state, restore, without_times
from mesh_catalog.registry import Catalog
from mesh_catalog.runs import Run, RunEvent, RunLog, parse_event
from mesh_catalog.scorecard import Scorecard, scorecard, worst_first
from mesh_catalog.search import Hit, search
from mesh_discovery.entries import CatalogEntry, MalformedDocument, Status, parse_entry
from mesh_governance import NO_POLICIES, PolicySet, Violation, evaluate, refusals
from mesh_sdk.spec.descriptor import ProductType

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


HISTORY_POINTS = 360  # an hour of pulls every 10 s


def _figures(report: dict[str, Any]) -> dict[str, float | None]:
    """The numbers of an observation report worth drawing over time; what is missing is None."""

    def number(value: Any) -> float | None:
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    volumes: dict[str, Any] = report.get("volumes") or {}
    dead: dict[str, Any] = report.get("dead_letters") or {}
    if not isinstance(volumes, dict) or not isinstance(dead, dict):
        volumes, dead = {}, {}
    dead_total = [number(v) for v in dead.values()]
    return {
        "total_rows": number(report.get("total_rows")),
        "freshness_seconds": number(report.get("freshness_seconds")),
        "consumed": number(volumes.get("consumed")),
        "dead_letters": sum(v for v in dead_total if v is not None) if dead else None,
    }


class FetchFailed(Exception):
    """A discovery port that did not answer with a document; the message names the URL and why."""

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        super().__init__(f"{url} {reason}")


class DocumentSource(Protocol):
    def fetch(self, url: str) -> Any:
        """The discovery document served at `url` (a product's base URL); raises FetchFailed."""
        ...

    def fetch_observations(self, url: str) -> Any:
        """The observation report served at `<url>/observations`; raises FetchFailed."""
        ...


class StateStore(Protocol):
    def load(self) -> Any | None:
        """The saved state as plain data, or None when there is none yet."""
        ...

    def save(self, state: dict[str, Any]) -> None: ...


class RegistrationRefused(Exception):
    """A push whose document violates `refuse` policies; `violations` are those (warnings are not)."""

    def __init__(self, product_id: str, url: str, violations: list[Violation]) -> None:
        self.product_id, self.url, self.violations = product_id, url, violations
        ids = ", ".join(dict.fromkeys(v.policy for v in violations))
        super().__init__(
            f"registration of {product_id} from {url} refused: {len(violations)} violation(s) of {ids}: "
            + "; ".join(f"{v.policy} {v.field} {v.problem}" for v in violations)
        )


@dataclass(frozen=True)
class Compliance:
    """A product's violations of the policies in force, as of its document read at `evaluated_at`."""

    violations: tuple[Violation, ...]
    evaluated_at: datetime
    policies_version: int

    @property
    def refusing(self) -> list[Violation]:
        return refusals(self.violations)


@dataclass(frozen=True)
class PullReport:
    refreshed: list[str]
    unavailable: list[str]


class CatalogService:
    def __init__(
        self,
        source: DocumentSource,
        store: StateStore,
        clock: Clock = lambda: datetime.now(UTC),
        *,
        policies: PolicySet = NO_POLICIES,
    ) -> None:
        self.catalog = Catalog()
        self.policies = policies
        self.policy_error: str | None = None  # why the policy file as it is now is not in force
        self._compliance: dict[str, Compliance] = {}
        self._observations: dict[str, Any] = {}  # product id -> its latest report, from the last pull
        self.runs = RunLog()
        # product id -> (time, figures) of each pull's observations, for the portal's charts
        self._history: dict[str, deque[tuple[datetime, dict[str, float | None]]]] = {}
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
            self.runs.restore(data.get("runs") or [])
            # The policies may have changed while the catalog was down: evaluate, never refuse, what was there.
            for entry in self.catalog.all():
                self._judge(entry, entry.availability.last_seen)
            self._saved = without_times(self._state())
            return len(self.catalog.all())

    # --- push -------------------------------------------------------------------------------------------

    def register_url(self, url: str) -> CatalogEntry:
        """A product's push by URL: the catalog reads the document itself, so what it lists is what the
        product really serves. Raises FetchFailed, MalformedDocument or RegistrationRefused."""
        return self.register_document(self._source.fetch(url), url)

    def judge(self, document: Any, url: str) -> tuple[CatalogEntry, tuple[Violation, ...]]:
        """What a registration of `document` would meet, registering nothing: the entry, judged against
        the policies and the contract accepted before under its id. Raises MalformedDocument."""
        entry = parse_entry(document, url, self._now())
        with self._lock:
            before = self.catalog.get(entry.id) if entry.id in self.catalog else None
        entry = replace(entry, accepted_contract=before.accepted_contract if before else None)
        return entry, evaluate(self.policies, entry)

    def register_document(self, document: Any, url: str) -> CatalogEntry:
        """Raises MalformedDocument, or RegistrationRefused when the document violates a `refuse` policy:
        then nothing changes (a product registered before stays as it was)."""
        now = self._now()
        entry, violations = self.judge(document, url)
        refused = refusals(violations)
        if refused:
            log.warning("refused the registration of %s from %s: %s", entry.id, url, "; ".join(map(str, refused)))
            raise RegistrationRefused(entry.id, url, refused)
        contract = entry.document.get("contract")
        entry = replace(entry, accepted_contract=contract if isinstance(contract, dict) else None)
        with self._lock:
            self.catalog.put(entry)
            self._compliance[entry.id] = Compliance(violations, now, self.policies.version)
            self._persist()
        log.info("registered %s at %s (%d warning(s))", entry.id, url, len(violations))
        return entry

    def retire(self, product_id: str) -> CatalogEntry:
        """The product leaves the catalog (its owners retired it, or a lab undoes its own): it is no longer
        listed, pulled or judged, and its accepted contract is forgotten; what it wrote stays where it is.
        Raises UnknownProduct."""
        with self._lock:
            entry = self.catalog.remove(product_id)
            for kept in (self._compliance, self._observations, self._history):
                kept.pop(entry.id, None)
            self._persist()
        log.info("retired %s", entry.id)
        return entry

    # --- pull -------------------------------------------------------------------------------------------

    def pull(self) -> PullReport:
        """Re-read every registered product's discovery port once, and the observation port of each that
        answered. A product that does not answer, or answers with a document the catalog cannot read,
        stays listed, marked unavailable; one whose observations cannot be read only has them unknown."""
        with self._lock:
            targets = [(e.id, e.url) for e in self.catalog.all()]
        report = PullReport([], [])
        for product_id, url in targets:
            try:
                document, error = self._source.fetch(url), None
            except FetchFailed as exc:
                document, error = None, str(exc)
            observations = None if error is not None else self._read_observations(product_id, url)
            with self._lock:
                if self.catalog.get(product_id).url != url:
                    continue  # it registered again from elsewhere while this pull was reading
                was = self.catalog.get(product_id).availability.status
                if error is None:
                    try:
                        self._judge(self.catalog.refreshed(product_id, document, self._now()), self._now())
                    except MalformedDocument as exc:
                        error = str(exc)
                if error is not None:
                    self.catalog.unreachable(product_id, error, self._now())
                    observations = None
                if observations is None:
                    self._observations.pop(product_id, None)
                else:
                    self._observations[product_id] = observations
                    self._history.setdefault(product_id, deque(maxlen=HISTORY_POINTS)).append(
                        (self._now(), _figures(observations))
                    )
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

    def _read_observations(self, product_id: str, url: str) -> Any | None:
        try:
            report = self._source.fetch_observations(url)
        except FetchFailed as exc:
            log.info("observations of %s unknown: %s", product_id, exc)
            return None
        if not isinstance(report, dict):
            log.info("observations of %s unknown: %s/observations answered no JSON object", product_id, url)
            return None
        return report

    def _judge(self, entry: CatalogEntry, at: datetime) -> None:
        """Record the entry's current violations (caller holds the lock); say when refusals appear."""
        compliance = Compliance(evaluate(self.policies, entry), at, self.policies.version)
        before = self._compliance.get(entry.id)
        new = [v for v in compliance.refusing if before is None or v not in before.violations]
        if new:
            log.warning("%s now violates: %s", entry.id, "; ".join(map(str, new)))
        self._compliance[entry.id] = compliance

    def replace_policies(self, policies: PolicySet) -> None:
        """New policies in force (the file changed): every product is evaluated again against them."""
        with self._lock:
            self.policies = policies
            for entry in self.catalog.all():
                self._judge(entry, self._now())

    # --- questions --------------------------------------------------------------------------------------

    def entries(
        self, *, domain: str | None = None, type: str | None = None, status: Status | None = None
    ) -> list[CatalogEntry]:
        with self._lock:
            entries = self.catalog.all()
        types = ProductType.filter(type)  # `algorithm` names both kinds of algorithm product
        return [
            e
            for e in entries
            if (domain is None or e.domain == domain)
            and (types is None or e.type in types)
            and (status is None or e.availability.status is status)
        ]

    def entry(self, product_id: str) -> CatalogEntry:
        """Raises UnknownProduct."""
        with self._lock:
            return self.catalog.get(product_id)

    def compliance(self, product_id: str) -> Compliance:
        """The product's violations as last evaluated; raises UnknownProduct."""
        with self._lock:
            entry = self.catalog.get(product_id)
            return self._compliance.get(entry.id) or Compliance((), entry.availability.last_seen, 0)

    def violations(self) -> dict[str, Compliance]:
        """Every product's current violations (an empty tuple: compliant), by product id."""
        with self._lock:
            return {e.id: self.compliance(e.id) for e in self.catalog.all()}

    def observations(self, product_id: str) -> Any | None:
        """The product's observation report read by the last pull, or None; raises UnknownProduct."""
        with self._lock:
            return self._observations.get(self.catalog.get(product_id).id)

    def observation_history(self, product_id: str) -> list[tuple[datetime, dict[str, float | None]]]:
        """The figures of the observations each pull read (the newest last, at most HISTORY_POINTS);
        raises UnknownProduct."""
        with self._lock:
            return list(self._history.get(self.catalog.get(product_id).id, ()))

    def scorecard(self, product_id: str) -> Scorecard:
        """Raises UnknownProduct."""
        with self._lock:
            entry = self.catalog.get(product_id)
            return scorecard(entry, self._observations.get(entry.id), self.compliance(entry.id).violations)

    def scorecards(self) -> list[Scorecard]:
        """Every product's scorecard, the worst first."""
        with self._lock:
            return worst_first(self.scorecard(e.id) for e in self.catalog.all())

    def search(self, query: str, *, domain: str | None = None, type: str | None = None) -> list[Hit]:
        return search(self.entries(), query, domain=domain, type=type)

    def domains(self) -> dict[str, list[str]]:
        with self._lock:
            return self.catalog.domains()

    def record_run_event(self, document: Any) -> tuple[RunEvent, Run]:
        """An OpenLineage run event; raises MalformedEvent. Events of jobs that are not registered
        products are kept too: they show as lineage of datasets outside the mesh's products."""
        event = parse_event(document)
        with self._lock:
            run = self.runs.record(event)
            if event.event_type != "RUNNING" or run.events <= 2:
                self._persist()  # a new run, or its end: RUNNING events only move versions
        return event, run

    def latest_runs(self) -> dict[str, Run]:
        with self._lock:
            return dict(self.runs.latest)

    def run_events(self, job: str | None = None, limit: int = 50) -> list[RunEvent]:
        with self._lock:
            return self.runs.events(job, limit)

    def lineage(self) -> LineageGraph:
        return LineageGraph.build(self.entries(), self.latest_runs())

    def column_lineage(self) -> ColumnGraph:
        return ColumnGraph.build(self.entries(), self.latest_runs())

    def column_lineage_of(self, column: str) -> tuple[ColumnNode, list[ColumnEdge], list[ColumnEdge], list[str]]:
        """The column, every edge up to it and down from it, and the columns its data enters the mesh
        by; raises UnknownNode."""
        graph = self.column_lineage()
        upstream = graph.upstream(column)
        return graph.nodes[column], upstream, graph.downstream(column), graph.sources(column)

    def lineage_of(self, node_id: str) -> tuple[Node, list[Edge], list[Edge]]:
        """The node with every edge up to it and down from it; raises UnknownNode."""
        graph = self.lineage()
        upstream = graph.upstream(node_id)
        return graph.nodes[node_id], upstream, graph.downstream(node_id)

    # --- state ------------------------------------------------------------------------------------------

    def _persist(self) -> None:
        """Write the registrations when they changed (caller holds the lock). A failed write is logged
        and retried at the next change or pull: the catalog keeps serving from memory."""
        state = self._state()
        unchanged = without_times(state)
        if unchanged == self._saved:
            return
        try:
            self._store.save(state)
        except OSError as exc:
            log.warning("could not save the catalog's registrations: %s", exc)
            return
        self._saved = unchanged

    def _state(self) -> dict[str, Any]:
        return dump_state(self.catalog.all()) | {"runs": self.runs.dump()}
