"""OpenLineage run events, as the catalog receives them (`POST /api/v1/lineage`, the endpoint OpenLineage
clients send to): read, checked, and kept as each job's latest run plus a bounded list of recent events.

Pure: the reader takes the event's JSON as plain data. Only the parts lineage needs are read (the job,
the run, its state, time, and each dataset's name, version, symlinks and column lineage); every other
facet is kept as sent, for whoever reads the recent events."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

STATES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
FINISHED = ("COMPLETE", "ABORT", "FAIL")
PORT_SYMLINK = "DATA_PRODUCT_PORT"


class MalformedEvent(ValueError):
    """An event the catalog cannot read; `field` is a path like `outputs[1].facets.columnLineage`."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"malformed OpenLineage run event: {field} {problem}")


@dataclass(frozen=True)
class InputField:
    namespace: str
    name: str
    field: str


@dataclass(frozen=True)
class Dataset:
    namespace: str
    name: str
    port: str | None  # `<product id>/<port>` from a DATA_PRODUCT_PORT symlink, for a product's port
    version: str | None
    # output column -> the input fields it is computed from (the columnLineage facet)
    columns: dict[str, tuple[InputField, ...]] = field(default_factory=dict)

    @property
    def node_id(self) -> str:
        """The lineage graph's node for this dataset: a product, a Kafka topic or a captured table."""
        if self.port is not None:
            return self.port.split("/", 1)[0]
        return dataset_node(self.namespace, self.name)


def dataset_node(namespace: str, name: str) -> str:
    if namespace.startswith("kafka://"):
        return f"kafka:{name}"
    if namespace.startswith("postgres://"):
        return f"cdc:{name}"
    return f"dataset:{namespace}/{name}"


@dataclass(frozen=True)
class RunEvent:
    event_type: str
    event_time: datetime
    run_id: str
    job_namespace: str
    job_name: str
    producer: str
    inputs: tuple[Dataset, ...]
    outputs: tuple[Dataset, ...]
    error: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass
class Run:
    """A job's latest run, as its events so far tell it."""

    job: str
    run_id: str
    state: str
    started_at: datetime
    last_event_at: datetime
    events: int
    inputs: tuple[Dataset, ...]
    outputs: tuple[Dataset, ...]
    error: str | None = None

    def datasets(self) -> dict[tuple[str, str], Dataset]:
        return {(d.namespace, d.name): d for d in (*self.inputs, *self.outputs)}

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["started_at"] = self.started_at.isoformat()
        out["last_event_at"] = self.last_event_at.isoformat()
        for kind in ("inputs", "outputs"):
            for d in out[kind]:
                d["node"] = Dataset(d["namespace"], d["name"], d["port"], d["version"]).node_id
        return out


def parse_event(doc: Any) -> RunEvent:
    if not isinstance(doc, dict):
        raise MalformedEvent("<root>", "is not a JSON object")
    if "run" not in doc and "job" in doc:
        raise MalformedEvent("run", "is missing: the catalog takes run events (dataset and job events carry no run)")
    event_type = _text(doc, "eventType", "", required=False) or "OTHER"
    if event_type not in STATES:
        raise MalformedEvent("eventType", f"is {event_type!r}, expected one of {', '.join(STATES)}")
    raw_time = _text(doc, "eventTime", "")
    try:
        event_time = datetime.fromisoformat(raw_time.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedEvent("eventTime", f"is {raw_time!r}, expected an ISO 8601 time") from None
    if event_time.tzinfo is None:
        raise MalformedEvent("eventTime", f"is {raw_time!r}: give the time zone (for example Z)")
    run, job = _object(doc, "run", ""), _object(doc, "job", "")
    error = None
    message = (_object(run, "facets", "run", required=False) or {}).get("errorMessage")
    if isinstance(message, dict) and isinstance(message.get("message"), str):
        error = message["message"]
    return RunEvent(
        event_type=event_type,
        event_time=event_time,
        run_id=_text(run, "runId", "run"),
        job_namespace=_text(job, "namespace", "job"),
        job_name=_text(job, "name", "job"),
        producer=_text(doc, "producer", ""),
        inputs=tuple(_datasets(doc, "inputs")),
        outputs=tuple(_datasets(doc, "outputs")),
        error=error,
        raw=doc,
    )


class RunLog:
    """Each job's latest run, and the most recent events of all jobs (newest last)."""

    def __init__(self, keep_events: int = 500) -> None:
        self.latest: dict[str, Run] = {}
        self.recent: deque[RunEvent] = deque(maxlen=keep_events)
        self.received = 0

    def record(self, event: RunEvent) -> Run:
        """Fold the event into its job's run. An event of an older run than the latest is kept in the
        recent events only: a product's new process starts a new run, and its old run's late events
        must not bring the old datasets back."""
        self.recent.append(event)
        self.received += 1
        run = self.latest.get(event.job_name)
        if run is not None and run.run_id != event.run_id and event.event_time < run.started_at:
            return run
        if run is None or run.run_id != event.run_id:
            run = Run(event.job_name, event.run_id, event.event_type, event.event_time, event.event_time, 0, (), ())
            self.latest[event.job_name] = run
        run.events += 1
        run.last_event_at = max(run.last_event_at, event.event_time)
        if run.state not in FINISHED or event.event_type in FINISHED:
            run.state = event.event_type
        run.inputs = _merged(run.inputs, event.inputs)
        run.outputs = _merged(run.outputs, event.outputs)
        run.error = event.error or run.error
        return run

    def events(self, job: str | None = None, limit: int = 50) -> list[RunEvent]:
        chosen = [e for e in self.recent if job is None or e.job_name == job]
        return chosen[-limit:][::-1]

    def dump(self) -> list[dict[str, Any]]:
        """The latest runs as plain data; the raw events of the last of each, enough to rebuild it."""
        by_job: dict[str, dict[str, Any]] = {}
        for event in self.recent:
            run = self.latest.get(event.job_name)
            if run is not None and run.run_id == event.run_id:
                by_job.setdefault(event.job_name, {"run": run.run_id, "events": []})["events"].append(event.raw)
        return list(by_job.values())

    def restore(self, saved: Iterable[Any]) -> None:
        for item in saved:
            if not isinstance(item, dict):
                continue
            for raw in item.get("events") or []:
                try:
                    self.record(parse_event(raw))
                except MalformedEvent:
                    continue


def _merged(known: tuple[Dataset, ...], new: tuple[Dataset, ...]) -> tuple[Dataset, ...]:
    """A RUNNING event may name only some datasets, or newer versions of them: the newest wins."""
    out = {(d.namespace, d.name): d for d in known}
    for d in new:
        before = out.get((d.namespace, d.name))
        if before is not None and not d.columns:
            d = Dataset(d.namespace, d.name, d.port or before.port, d.version or before.version, before.columns)
        out[(d.namespace, d.name)] = d
    return tuple(out.values())


def _datasets(doc: dict[str, Any], key: str) -> Iterable[Dataset]:
    items = doc.get(key) or []
    if not isinstance(items, list):
        raise MalformedEvent(key, "is not a list of datasets")
    for i, item in enumerate(items):
        where = f"{key}[{i}]"
        if not isinstance(item, dict):
            raise MalformedEvent(where, "is not a dataset object")
        facets = _object(item, "facets", where, required=False) or {}
        yield Dataset(
            namespace=_text(item, "namespace", where),
            name=_text(item, "name", where),
            port=_port(facets, f"{where}.facets"),
            version=_version(facets),
            columns=_columns(facets, f"{where}.facets"),
        )


def _port(facets: dict[str, Any], where: str) -> str | None:
    symlinks = facets.get("symlinks")
    if not isinstance(symlinks, dict):
        return None
    for i, ident in enumerate(symlinks.get("identifiers") or []):
        if isinstance(ident, dict) and ident.get("type") == PORT_SYMLINK:
            return _text(ident, "name", f"{where}.symlinks.identifiers[{i}]")
    return None


def _version(facets: dict[str, Any]) -> str | None:
    version = facets.get("version")
    if isinstance(version, dict) and version.get("datasetVersion") is not None:
        return str(version["datasetVersion"])
    return None


def _columns(facets: dict[str, Any], where: str) -> dict[str, tuple[InputField, ...]]:
    lineage = facets.get("columnLineage")
    if lineage is None:
        return {}
    fields = lineage.get("fields") if isinstance(lineage, dict) else None
    if not isinstance(fields, dict):
        raise MalformedEvent(f"{where}.columnLineage.fields", "is not an object of output columns")
    out: dict[str, tuple[InputField, ...]] = {}
    for column, spec in fields.items():
        at = f"{where}.columnLineage.fields.{column}"
        inputs = spec.get("inputFields") if isinstance(spec, dict) else None
        if not isinstance(inputs, list):
            raise MalformedEvent(f"{at}.inputFields", "is not a list")
        found = []
        for k, f in enumerate(inputs):
            item = f"{at}.inputFields[{k}]"
            if not isinstance(f, dict):
                raise MalformedEvent(item, "is not an object")
            found.append(InputField(_text(f, "namespace", item), _text(f, "name", item), _text(f, "field", item)))
        out[column] = tuple(found)
    return out


def _object(parent: dict[str, Any], key: str, where: str, *, required: bool = True) -> dict[str, Any]:
    value = parent.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise MalformedEvent(_path(where, key), "is missing" if value is None else "is not an object")
    return value


def _text(parent: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = parent.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise MalformedEvent(_path(where, key), "is missing" if value in (None, "") else "is not text")
    return value


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
