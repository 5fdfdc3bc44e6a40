"""A catalog entry: what a product's discovery document (`GET /` of its HTTP port) says about it.

The reader is tolerant: it refuses only documents it cannot identify or whose structure is wrong, and
leaves completeness (an owner, a contract, an SLO) to governance, whose refusal can name the policy."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from mesh_sdk.spec.contract import PII

T = TypeVar("T")
INPUT_KINDS = ("product", "kafka", "cdc")
_TYPE_NAMES = {
    str: "a string",
    dict: "an object",
    list: "a list",
    float: "a number",
    int: "a number",
    bool: "a boolean",
}


class MalformedDocument(ValueError):
    """A discovery document the catalog cannot read; `field` is a path like `descriptor.inputPorts[0].kind`."""

    def __init__(self, field: str, problem: str, source: str | None = None) -> None:
        self.field, self.problem, self.source = field, problem, source
        origin = f" from {source}" if source else ""
        super().__init__(f"malformed discovery document{origin}: {field} {problem}")


class Status(StrEnum):
    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"

    @classmethod
    def named(cls, value: str | None) -> Status | None:
        """The status a filter names (None: any); a ValueError lists the names there are."""
        if value is None:
            return None
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"status is {value!r}, expected one of {', '.join(s.value for s in cls)}") from None


@dataclass(frozen=True)
class Availability:
    status: Status
    last_seen: datetime  # the last time the product answered
    last_error: str | None = None
    unavailable_since: datetime | None = None


@dataclass(frozen=True)
class Owner:
    team: str
    contact: str | None


@dataclass(frozen=True)
class InputPort:
    name: str
    kind: str  # product | kafka | cdc
    source: str  # the upstream product's id, or the Kafka / CDC topic
    port: str | None = None  # the upstream product's output port
    retired: bool = False  # its source said its last word: the product reads it no more

    @property
    def external(self) -> bool:
        return self.kind != "product"


@dataclass(frozen=True)
class OutputPort:
    name: str
    kind: str
    description: str = ""


@dataclass(frozen=True)
class Column:
    table: str
    name: str
    logical_type: str | None
    description: str
    classification: str | None
    primary_key: bool

    @property
    def pii(self) -> bool:
        return (self.classification or "").lower() == PII


@dataclass(frozen=True)
class ExampleQuery:
    name: str
    language: str
    description: str


@dataclass(frozen=True)
class Persona:
    role: str
    needs: str
    skills: tuple[str, ...]


@dataclass(frozen=True)
class Slos:
    freshness_seconds: float | None = None
    availability: float | None = None


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    domain: str
    name: str
    type: str
    description: str
    owner: Owner | None
    tags: tuple[str, ...]
    input_ports: tuple[InputPort, ...]
    output_ports: tuple[OutputPort, ...]
    columns: tuple[Column, ...]
    queries: tuple[ExampleQuery, ...]
    slos: Slos
    business_objective: str  # "" when the product does not say (governance warns)
    personas: tuple[Persona, ...]
    url: str
    availability: Availability
    # Kept whole for product pages, scorecards and governance, which read more than the catalog indexes.
    document: Mapping[str, Any] = field(repr=False, compare=False)
    # The contract of this id the catalog last accepted at a registration: what consumers were promised,
    # against which a new contract of the same major is judged (None: never registered before).
    accepted_contract: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.table for c in self.columns))


def parse_entry(doc: Any, url: str, now: datetime) -> CatalogEntry:
    """Read a discovery document fetched (or pushed) from `url` at `now`."""
    try:
        return _entry(doc, url, now)
    except MalformedDocument as exc:
        raise MalformedDocument(exc.field, exc.problem, url) from None


def _entry(doc: Any, url: str, now: datetime) -> CatalogEntry:
    if not isinstance(doc, dict):
        raise MalformedDocument("<root>", f"is {_kind_of(doc)}, expected an object")
    d = _required(doc, "descriptor", "", dict)
    contract = _optional(doc, "contract", "", dict) or {}
    slos = _optional(d, "slos", "descriptor", dict) or {}
    states = _optional(doc, "inputs", "", dict) or {}  # what the running product reads now
    return CatalogEntry(
        id=_required(d, "id", "descriptor", str),
        domain=_required(d, "domain", "descriptor", str),
        name=_required(d, "name", "descriptor", str),
        type=_required(d, "type", "descriptor", str),
        description=_optional(d, "description", "descriptor", str) or "",
        owner=_owner(d),
        tags=tuple(dict.fromkeys([*_strings(d, "tags", "descriptor"), *_strings(contract, "tags", "contract")])),
        input_ports=tuple(
            replace(port, retired=states.get(port.name) == "retired")
            for where, p in _objects(d, "inputPorts", "descriptor")
            for port in [_input_port(p, where)]
        ),
        output_ports=tuple(
            OutputPort(_required(p, "name", where, str), _required(p, "kind", where, str), _description(p, where))
            for where, p in _objects(d, "outputPorts", "descriptor")
        ),
        columns=tuple(_columns(contract)),
        queries=tuple(
            ExampleQuery(_required(q, "name", where, str), _required(q, "language", where, str), _description(q, where))
            for where, q in _objects(doc, "queries", "")
        ),
        slos=Slos(
            _optional(slos, "freshness_seconds", "descriptor.slos", float),
            _optional(slos, "availability", "descriptor.slos", float),
        ),
        business_objective=_optional(d, "businessObjective", "descriptor", str) or "",
        personas=tuple(
            Persona(
                _required(p, "role", where, str),
                _optional(p, "needs", where, str) or "",
                tuple(_strings(p, "skills", where)),
            )
            for where, p in _objects(d, "personas", "descriptor")
        ),
        url=url,
        availability=Availability(Status.AVAILABLE, now),
        document=doc,
    )


def _owner(descriptor: dict[str, Any]) -> Owner | None:
    owner = _optional(descriptor, "owner", "descriptor", dict)
    if owner is None:
        return None
    return Owner(
        _required(owner, "team", "descriptor.owner", str), _optional(owner, "contact", "descriptor.owner", str)
    )


def _input_port(port: dict[str, Any], where: str) -> InputPort:
    name, kind = _required(port, "name", where, str), _required(port, "kind", where, str)
    if kind == "product":
        return InputPort(
            name, kind, _required(port, "product", where, str), _optional(port, "port", where, str) or "stream"
        )
    if kind in INPUT_KINDS:
        return InputPort(name, kind, _required(port, "topic", where, str))
    raise MalformedDocument(f"{where}.kind", f"is {kind!r}, expected one of {', '.join(INPUT_KINDS)}")


def _columns(contract: dict[str, Any]) -> Iterator[Column]:
    for where, table in _objects(contract, "schema", "contract"):
        table_name = _required(table, "name", where, str)
        for at, prop in _objects(table, "properties", where):
            yield Column(
                table=table_name,
                name=_required(prop, "name", at, str),
                logical_type=_optional(prop, "logicalType", at, str),
                description=_description(prop, at),
                classification=_optional(prop, "classification", at, str),
                primary_key=bool(_optional(prop, "primaryKey", at, bool)),
            )


def _description(parent: dict[str, Any], where: str) -> str:
    return _optional(parent, "description", where, str) or ""


def _kind_of(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _optional(parent: dict[str, Any], key: str, where: str, expected: type[T]) -> T | None:
    value = parent.get(key)
    if value is None:
        return None
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, expected) and (expected is bool or not isinstance(value, bool)):
        return value
    raise MalformedDocument(
        _path(where, key), f"is {_kind_of(value)}, expected {_TYPE_NAMES.get(expected, expected.__name__)}"
    )


def _required(parent: dict[str, Any], key: str, where: str, expected: type[T]) -> T:
    value = _optional(parent, key, where, expected)
    if value is None or value == "":
        raise MalformedDocument(_path(where, key), "is missing")
    return value


def _objects(parent: dict[str, Any], key: str, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, item in enumerate(_optional(parent, key, where, list) or []):
        at = f"{_path(where, key)}[{i}]"
        if not isinstance(item, dict):
            raise MalformedDocument(at, f"is {_kind_of(item)}, expected an object")
        yield at, item


def _strings(parent: dict[str, Any], key: str, where: str) -> list[str]:
    items = _optional(parent, key, where, list) or []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise MalformedDocument(f"{_path(where, key)}[{i}]", f"is {_kind_of(item)}, expected a string")
    return items
