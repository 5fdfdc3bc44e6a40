"""The composition root of a derived product: it reads other products' Iceberg output ports, pinned
to one snapshot per refresh, hands them to the product's `Derivation`, and commits what it returns to
the product's own tables, served on the same ports as every product.

Exactly once, across several tables: each refresh commits the other tables first, then the first
(the anchor) with a progress record (the input snapshots it saw, the snapshot each table reached) as
a table property in the same transaction. A process that starts rolls every other table back to the
snapshot the progress names, so all tables show the last complete refresh, and the derivation
continues from the inputs as that refresh saw them: a crash between two commits repeats a refresh,
never half of one."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from confluent_kafka import Producer
from pyiceberg.exceptions import NoSuchTableError

from mesh_adapters.avro import AvroWireEncoder
from mesh_config import MeshSettings
from mesh_sdk.derive.keyed_table import KeyedTable
from mesh_sdk.derive.progress import Progress, changed_inputs, commit_order, commit_summary, unknown_ports
from mesh_sdk.derive.state import DerivationStates, StateUnreadable
from mesh_sdk.observe.outcome import BatchOutcome
from mesh_sdk.observe.quality import table_checks
from mesh_sdk.runtime.clients import Clients
from mesh_sdk.runtime.host import ProductHost, current_snapshot_id
from mesh_sdk.runtime.options import RuntimeOptions
from mesh_sdk.serve.reader import HotCopy, TableReader
from mesh_sdk.spec.column_types import arrow_schema, avro_schema, iceberg_schema
from mesh_sdk.spec.keys import row_key
from mesh_sdk.spec.logic import Context, Inputs, Update
from mesh_sdk.spec.product import DataProduct
from mesh_sdk.storage.history import PORT, ensure_table
from mesh_sdk.storage.keyed import Delta
from mesh_sdk.storage.upstream import NotIncremental, UpstreamTable, UpstreamUnavailable

log = logging.getLogger(__name__)


class DerivedRuntime(ProductHost):
    join_timeout_s = 30.0  # a refresh under way finishes

    def __init__(self, product: DataProduct, settings: MeshSettings, options: RuntimeOptions, clients: Clients) -> None:
        assert product.derived and product.derivation is not None
        super().__init__(product, settings, options, clients)
        d = product.descriptor
        contract = product.contract
        self.every_s = d.refresh.every_seconds if d.refresh is not None else 1.0

        catalog = self.catalog
        self.upstreams = {p.name: UpstreamTable(catalog, p.table) for p in product.product_inputs()}
        self.increments = [p.name for p in product.product_inputs() if p.read == "increments"]
        self.outputs: dict[str, KeyedTable] = {}
        self.hot: dict[str, HotCopy] = {}
        self.readers: dict[str, TableReader] = {}
        for port in product.output_tables():
            props = contract.properties(port)
            keys = contract.primary_key(port)
            schema = arrow_schema(props)
            table = ensure_table(catalog, d.table(port), iceberg_schema(props), d.description, f"{d.id}/{port}")
            self.outputs[port] = KeyedTable(table, keys, schema, self.upkeep)
            self.hot[port] = HotCopy(schema, options.hot_max_rows)
            self.readers[port] = TableReader(
                lambda port=port: self.outputs[port].table,  # type: ignore[misc]
                self._duck,
                props,
                keys,
                hot=self.hot[port],
            )
        self.anchor = product.output_tables()[0]

        self.streams: dict[str, tuple[str, AvroWireEncoder]] = {}
        for stream in d.output_ports:
            if stream.kind == "kafka" and stream.source is not None:
                topic = d.topic(stream.name)
                schema = avro_schema(
                    contract.properties(stream.source),
                    name="".join(part.title() for part in stream.source.split("_")),
                    namespace=d.avro_namespace,
                    doc=contract.object(stream.source).description or "",
                )
                self.streams[stream.source] = (topic, AvroWireEncoder(self.registry, f"{topic}-value", schema))
        if self.streams:
            self.kafka.ensure_topics([topic for topic, _ in self.streams.values()])
        self.producer = self.kafka.producer()

        self.artifacts = clients.artifacts(f"{d.domain}/{d.name}")
        self.states = DerivationStates(clients.artifacts(f"state/{d.domain}/{d.name}"))
        # The product's Derivation and the state it holds: made by `_recover` at start, with the state
        # the last complete refresh left (or none, when the outputs are rebuilt).
        self.derivation: Any = None
        self.state: dict[str, Any] = {}
        self.seen: dict[str, int | None] = {}  # input snapshots of the last complete refresh
        self.refreshes = 0
        self.last_refresh: dict[str, Any] = {}
        self._input_cache: dict[str, tuple[int | None, pa.Table]] = {}
        self._rows_read = 0  # input rows read from the lakehouse by the refresh under way
        self._lock = threading.Lock()  # one refresh at a time (the loop, or the control port)
        self._unsettled = False  # a refresh failed part way: tables and derivation may be ahead of the anchor
        self._wake = threading.Event()
        self.undeclared: dict[str, str | None] = {}  # lakehouse tables read by name -> `<product id>/<port>`
        self.waiting_for: str | None = None  # an input whose product has not written its table yet
        checks = [c for port in self.outputs for c in table_checks(contract.object(port))]
        self._serve(
            self.anchor,
            self.readers[self.anchor],
            checks,
            [prop for r in self.readers.values() for prop in r.props.values()],
            tables=self.readers,
            freshness=self._reflects_up_to,
            undeclared=lambda: dict(self.undeclared),
        )

    # --- the ports' view ---------------------------------------------------------------------------------

    def served_tables(self) -> dict[str, TableReader]:
        return dict(self.readers)

    def discovery_extras(self) -> dict[str, Any]:
        describe = getattr(self.derivation, "describe", None)
        extras: dict[str, Any] = {"refresh": self.last_refresh}
        if self.undeclared:
            extras["undeclared_reads"] = [{"table": t, "port": p} for t, p in sorted(self.undeclared.items())]
        if callable(describe):
            extras["derivation"] = describe()
        return extras

    def engine_urls(self) -> dict[str, str]:
        s = self.settings
        base = f"http://{s.host}:{self.options.http_port}"
        d = self.product.descriptor
        urls = {f"rest_{port}": f"{base}/{port}" for port in self.outputs if "rest" in self.query_ports}
        urls |= {f"iceberg_{port}": f"{d.table(port)} in catalog {s.catalog_name}" for port in self.outputs}
        urls |= {
            f"stream_{port}": f"kafka://{s.bootstrap_servers}/{topic}" for port, (topic, _) in self.streams.items()
        }
        return urls | {"refresh": f"{base}/control/refresh"}

    def _versions(self) -> dict[str, str | None]:
        """The input snapshots of the last complete refresh and the snapshot each table reached."""
        versions = {port: None if s is None else str(s) for port, s in self.seen.items()}
        for port, table in self.outputs.items():
            versions[port] = current_snapshot_id(table.table)
        return versions

    def _reflects_up_to(self) -> datetime | None:
        """Freshness of a derived product: when the newest input snapshot it has processed was written."""
        newest: datetime | None = None
        for port, snapshot_id in self.seen.items():
            if snapshot_id is None:
                continue
            try:
                snapshot = self.upstreams[port].table().snapshot_by_id(snapshot_id)
            except UpstreamUnavailable:
                continue
            if snapshot is not None:
                at = datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC)
                newest = at if newest is None or at > newest else newest
        return newest

    # --- refreshing --------------------------------------------------------------------------------------

    def _read_input(self, port: str, snapshot_id: int | None, where: str | None = None) -> pa.Table:
        if where is not None:  # a slice, read for one purpose: not worth keeping
            part = self.upstreams[port].rows(snapshot_id, where)
            self._rows_read += part.num_rows
            return part
        cached = self._input_cache.get(port)
        if cached is not None and cached[0] == snapshot_id:
            return cached[1]
        rows = self.upstreams[port].rows(snapshot_id)
        self._input_cache[port] = (snapshot_id, rows)
        self._rows_read += rows.num_rows
        return rows

    def _read_shared(self, name: str) -> pa.Table:
        """A lakehouse table read by its name: shared storage allows it; the read is kept, for the
        discovery port (governance) and the run's lineage, as a dependency no input port declares."""
        try:
            table = self.catalog.load_table(name)
        except NoSuchTableError:
            raise KeyError(f"no table {name} in the lakehouse") from None
        if name not in self.undeclared:
            log.warning("%s read from the lakehouse by name, without an input port: an undeclared dependency", name)
        self.undeclared[name] = table.properties.get(PORT)
        rows = table.scan().to_arrow()
        self._rows_read += rows.num_rows
        return rows

    def _inputs(
        self, snapshots: dict[str, int | None], changed: frozenset[str], new: dict[str, pa.Table], forced: bool
    ) -> Inputs:
        return Inputs(
            snapshots,
            changed,
            datetime.now(UTC),
            forced,
            new,
            lambda port, where: self._read_input(port, snapshots[port], where),
            self._read_shared,
        )

    def refresh_now(self) -> dict[str, Any] | None:
        """A refresh on request; when it returns, every port (SQL included) answers from it."""
        done = self.refresh(forced=True) or {"refresh": self.refreshes, "committed": {}}
        self.ports.refresh_views_now()
        return done

    def refresh(self, forced: bool = False) -> dict[str, Any] | None:
        """One refresh if an input has a new snapshot (or if `forced`); returns what it committed."""
        return self._run(lambda inputs: self.derivation.refresh(inputs), forced)

    def command(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any] | None:
        """A person's decision, taken by the derivation's `command` on the inputs as they are now and
        committed like a refresh (its updates and the state it leaves); None when the product takes no
        commands. Raises UnknownCommand or CommandRefused, with nothing committed."""
        take = getattr(self.derivation, "command", None)
        if not callable(take):
            return None
        done = self._run(lambda inputs: take(name, arguments, inputs), forced=True)
        self.ports.refresh_views_now()
        return done

    def _run(self, derive: Callable[[Inputs], Mapping[str, Update]], forced: bool) -> dict[str, Any] | None:
        with self._lock:
            if self._unsettled:
                self._settle()
            snapshots = {port: up.newest_snapshot() for port, up in self.upstreams.items()}
            changed = changed_inputs(snapshots, self.seen)
            if not changed and not forced:
                return None
            started = time.monotonic()
            self._rows_read = 0
            self._unsettled = True  # until the anchor commits: the derivation's state, then other tables, run ahead
            try:
                try:
                    new = {p: self.upstreams[p].appended(self.seen.get(p), snapshots[p]) for p in self.increments}
                except NotIncremental as exc:
                    log.warning("%s: rebuilding every output from the inputs' whole tables", exc)
                    self._start_over()
                    new = {p: self.upstreams[p].rows(snapshots[p]) for p in self.increments}
                updates = dict(derive(self._inputs(snapshots, changed, new, forced)))
                refused = unknown_ports(updates, self.outputs)
                if refused:
                    raise ValueError(refused)
                state = self.states.save(self.refreshes + 1, self.state)
                deltas = self._commit(snapshots, updates, state)
            except Exception:
                self._settle()  # if this fails too, the next refresh settles first
                raise
            self.seen = snapshots
            self._unsettled = False
            if state is not None:
                self.states.forget_older(than=state)
            consumed = self._rows_read + sum(t.num_rows for t in new.values())
        self._after_commit(updates, deltas, consumed)
        self.last_refresh = {
            "refresh": self.refreshes,
            "at": datetime.now(UTC).isoformat(),
            "seconds": round(time.monotonic() - started, 3),
            "input_snapshots": {p: s for p, s in snapshots.items()},
            "input_rows": {p: t.num_rows for p, t in new.items()},
            "committed": {p: len(u.rows) for p, u in updates.items() if u},
        }
        return self.last_refresh

    def _commit(
        self, snapshots: dict[str, int | None], updates: dict[str, Update], state: str | None
    ) -> dict[str, Delta]:
        self.refreshes += 1
        summary = commit_summary(self.refreshes, snapshots)
        deltas: dict[str, Delta] = {}
        reached: dict[str, int | None] = {}
        for port in commit_order(list(self.outputs), self.anchor):
            table, update = self.outputs[port], updates.get(port)
            if port == self.anchor:
                progress = Progress(self.refreshes, snapshots, reached, state)
                deltas[port] = table.write(update or Update(), summary, extra=progress.record())
                break
            if update:
                deltas[port] = table.write(update, summary)
            current = table.table.current_snapshot()
            reached[port] = current.snapshot_id if current is not None else None
        return deltas

    def _after_commit(self, updates: dict[str, Update], deltas: dict[str, Delta], consumed: int) -> None:
        for port, delta in deltas.items():
            update = updates.get(port)
            if update:
                self._publish(port, delta)
            hot = self.hot[port]
            incremental = update is not None and not update.replace_all and delta.to_snapshot is not None
            if incremental and delta.from_snapshot is not None and hot.holds(delta.from_snapshot):
                assert delta.to_snapshot is not None
                hot.replace(self.outputs[port].key_columns, delta.keys, delta.alive, delta.to_snapshot)
            if not hot.holds(delta.to_snapshot or -1):
                hot.load(self.outputs[port].table)
            table = self.outputs[port]
            if table.due_for_compaction():
                table.compact()
                if not hot.follow(table.table):
                    hot.load(table.table)
            self.readers[port].invalidate()
        written = sum(len(u.rows) for u in updates.values() if u)
        anchor = self.outputs[self.anchor].table.current_snapshot()
        self.observer.record_batch(
            BatchOutcome(
                consumed=consumed,
                written=written,
                snapshot_id=anchor.snapshot_id if anchor is not None else None,
            )
        )
        self.ports.views_changed()

    def _publish(self, port: str, delta: Delta) -> None:
        """Each row written, and a tombstone (a key without a value) for each key the refresh removed."""
        stream = self.streams.get(port)
        if stream is None:
            return
        topic, encode = stream
        columns = self.outputs[port].key_columns

        alive = delta.alive.to_pylist()
        written = {row_key(row, columns) for row in alive}
        removed = {row_key(row, columns) for row in delta.keys.select(list(columns)).to_pylist()} - written
        for row in alive:
            self.producer.produce(topic, key=row_key(row, columns).encode(), value=encode(row))
            self.producer.poll(0)
        for key in sorted(removed):
            self.producer.produce(topic, key=key.encode(), value=None)
            self.producer.poll(0)
        if alive or removed:
            self.producer.flush(30)

    # --- start, recovery, stop ---------------------------------------------------------------------------

    def _recover(self) -> None:
        """Roll every table back to the last complete refresh, and the derivation to its state then."""
        progress = Progress.of(self.outputs[self.anchor].table.properties)
        for port, snapshot in progress.roll_back(list(self.outputs), self.anchor).items():
            if self.outputs[port].roll_back_to(snapshot):
                log.warning("%s rolled back to the last complete refresh (%d)", port, progress.refresh)
        self.refreshes = progress.refresh
        self.seen = progress.seen(self.upstreams)
        gone = [p for p in self.increments if self._expired(p, self.seen[p])]
        if gone:  # what was appended since cannot be told apart: nothing to continue from
            log.warning("the snapshots of %s the last refresh read were expired: rebuilding every output", gone)
            self._start_over()
            return
        if not progress.continues():
            log.warning("the last refresh was recorded before the platform kept derivations' states: rebuilding")
            self._start_over()
            return
        try:
            self.derivation = self._derivation(self.states.load(progress.state) if progress.state else {})
        except StateUnreadable as exc:
            log.warning("%s: rebuilding every output from the inputs", exc)
            self._start_over()
            return

    def _derivation(self, state: dict[str, Any]) -> Any:
        """The product's Derivation, holding `state` (what the last complete refresh left)."""
        assert self.product.derivation is not None
        self.state = state
        return self.product.derivation(Context(self.product.id, self.artifacts, state))

    def _expired(self, port: str, snapshot_id: int | None) -> bool:
        try:
            return snapshot_id is not None and self.upstreams[port].table().snapshot_by_id(snapshot_id) is None
        except UpstreamUnavailable:
            return False

    def _settle(self) -> None:
        """After a refresh that failed part way, in a process that goes on: back to the last complete one."""
        for table in self.outputs.values():
            table.table.refresh()  # what was committed, whatever the failure left in memory
        self._recover()
        for reader in self.readers.values():
            reader.invalidate()
        self.ports.views_changed()
        self._unsettled = False

    def _start_over(self) -> None:
        for table in self.outputs.values():
            table.roll_back_to(None)
        self.seen = {}
        self.derivation = self._derivation({})

    def _loop(self) -> None:
        stopping = self.ports.stopping
        while not stopping.is_set():
            self._wake.wait(self.every_s)
            self._wake.clear()
            if stopping.is_set():
                return
            try:
                self.refresh()
                self.waiting_for = None
            except UpstreamUnavailable as exc:
                if self.waiting_for != str(exc):
                    log.warning("waiting: %s", exc)
                self.waiting_for = str(exc)
            except Exception:
                log.exception("refresh failed; the outputs keep the last complete refresh, retrying")
                stopping.wait(min(30.0, self.every_s * 5))

    def _start_engine(self) -> None:
        self._recover()
        for port, table in self.outputs.items():
            self.hot[port].load(table.table)
        self.ports.spawn("refresh", self._loop)

    def _serving(self) -> None:
        self._wake.set()

    def _halt_engine(self) -> None:
        self._wake.set()

    def _engine_producers(self) -> Iterable[Producer]:
        return (self.producer,)
