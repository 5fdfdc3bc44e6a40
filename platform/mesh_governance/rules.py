"""The checks behind the policies: each rule reads a catalog entry (and the discovery document it was
read from) and yields findings, each naming the field to blame by its path in the document (the same
paths the catalog's reader uses, such as `contract.schema[0].properties[8].classification`).

Pure and defensive: the catalog's reader has checked the document's structure where it indexes it
(descriptor, contract schema); everything else is read here as it comes, never trusted to be there."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mesh_config.naming import PRODUCT_ID, ProductName
from mesh_discovery.entries import CatalogEntry
from mesh_governance.contract_changes import breaking_changes
from mesh_sdk.spec.column_lineage import derivations
from mesh_sdk.spec.contract import PII

# A topic in the mesh's own convention, whoever owns it: <domain>.<product>.<port>.v<major>.
MESH_TOPIC = re.compile(r"^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_-]*\.[a-z0-9_-]+\.v\d+$")
CDC_TOPIC = re.compile(r"^cdc\.[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$")
_VERSION_MAJOR = re.compile(r"^v?(\d+)(\.|$)")
_SECONDS_PER = {
    **dict.fromkeys(("ms", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "second", "seconds"), 1.0),
    **dict.fromkeys(("min", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
}


@dataclass(frozen=True)
class Finding:
    field: str  # path in the discovery document
    problem: str  # what is wrong there, with the values involved
    fix: str | None = None  # the fix for this very case; None: the policy's own fix hint


Check = Callable[[CatalogEntry, Mapping[str, Any]], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    check: Check
    parameters: Mapping[str, str] = field(default_factory=dict)  # name -> "text" | "list of text"


# --- helpers ------------------------------------------------------------------------------------------


def _descriptor(entry: CatalogEntry) -> Mapping[str, Any]:
    d = entry.document.get("descriptor")
    return d if isinstance(d, dict) else {}


def _contract(entry: CatalogEntry) -> Mapping[str, Any]:
    c = entry.document.get("contract")
    return c if isinstance(c, dict) else {}


def _items(parent: Mapping[str, Any], key: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    value = parent.get(key)
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def _columns(entry: CatalogEntry) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
    """(path, table, column, property) of every column of the contract."""
    for i, table in _items(_contract(entry), "schema"):
        for j, prop in _items(table, "properties"):
            yield f"contract.schema[{i}].properties[{j}]", str(table.get("name")), str(prop.get("name")), prop


def _is_pii(prop: Mapping[str, Any]) -> bool:
    classification = prop.get("classification")
    return isinstance(classification, str) and classification.lower() == PII


def _custom(parent: Mapping[str, Any], *names: str) -> Iterator[tuple[int, Any]]:
    for k, item in _items(parent, "customProperties"):
        if item.get("property") in names:
            yield k, item.get("value")


def _major(entry: CatalogEntry) -> int | None:
    match = PRODUCT_ID.match(entry.id)
    return int(match["major"]) if match else None


def _word_list(values: Any) -> list[str]:
    return [str(v) for v in values]


# --- GOV-001 ------------------------------------------------------------------------------------------


def owner_and_contract(entry: CatalogEntry, _params: Mapping[str, Any]) -> Iterator[Finding]:
    if entry.owner is None:
        yield Finding("descriptor.owner", "is missing: no team answers for the product")
    else:
        if not entry.owner.team.strip():
            yield Finding("descriptor.owner.team", "is blank: no team answers for the product")
        if not (entry.owner.contact or "").strip():
            yield Finding(
                "descriptor.owner.contact",
                f"is missing: consumers cannot reach {entry.owner.team}",
                "add `contact` to the owner: the team's e-mail or chat channel",
            )
    contract = entry.document.get("contract")
    if not isinstance(contract, dict) or not contract:
        yield Finding("contract", "is missing: the product serves no data contract")
        return
    contract_id = contract.get("id")
    if contract_id != entry.id:
        yield Finding(
            "contract.id",
            f"is {contract_id!r}, expected the product's id {entry.id!r}: the contract is not this product's",
            f"set `id: {entry.id}` in contract.yaml",
        )
    if not entry.columns:
        yield Finding("contract.schema", "describes no output data", "describe each output table and its columns")


# --- GOV-002 ------------------------------------------------------------------------------------------


def columns_classified(entry: CatalogEntry, params: Mapping[str, Any]) -> Iterator[Finding]:
    vocabulary = _word_list(params.get("classifications", ["public", "internal", "confidential", "restricted", PII]))
    for at, table, column, prop in _columns(entry):
        classification = prop.get("classification")
        if classification is None or (isinstance(classification, str) and not classification.strip()):
            yield Finding(
                f"{at}.classification",
                f"is missing: column {column} of {table} is not classified, so nobody knows whether it is PII",
                f"classify {table}.{column} in contract.yaml: `pii` if it is personal data, "
                f"otherwise one of {', '.join(v for v in vocabulary if v != PII)}",
            )
        elif not isinstance(classification, str) or classification.lower() not in vocabulary:
            yield Finding(
                f"{at}.classification",
                f"is {classification!r} on {table}.{column}, expected one of {', '.join(vocabulary)}",
                f"use one of {', '.join(vocabulary)}",
            )


# --- GOV-003 ------------------------------------------------------------------------------------------


def pii_maskable(entry: CatalogEntry, _params: Mapping[str, Any]) -> Iterator[Finding]:
    for at, table, column, prop in _columns(entry):
        if _is_pii(prop) and prop.get("primaryKey") is True:
            yield Finding(
                f"{at}.primaryKey",
                f"is true on PII column {table}.{column}: a key cannot be masked for consumers without a PII grant",
                f"key {table} on a pseudonymous id and keep {column} as an ordinary `pii` column",
            )


# --- GOV-004 ------------------------------------------------------------------------------------------


def backward_compatible(entry: CatalogEntry, params: Mapping[str, Any]) -> Iterator[Finding]:
    allowed = _word_list(params.get("allowed", ["BACKWARD", "BACKWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"]))
    default = str(params.get("registry_default", "BACKWARD"))
    declared: list[tuple[str, Any]] = []
    descriptor, contract = _descriptor(entry), _contract(entry)
    for key in ("compatibility", "schemaCompatibility"):
        if key in descriptor:
            declared.append((f"descriptor.{key}", descriptor[key]))
    for k, value in _custom(contract, "compatibility", "schemaCompatibility"):
        declared.append((f"contract.customProperties[{k}].value", value))
    # Nothing declared: the registry's own rule, `default`, applies to every subject of the product.
    for where, value in declared:
        if not isinstance(value, str) or value.upper() not in allowed:
            yield Finding(
                where,
                f"asks the schema registry for {value!r} compatibility; the mesh requires {default} or stricter "
                f"({', '.join(allowed)})",
                f"remove it (the registry applies {default}) or use one of {', '.join(allowed)}",
            )

    major = _major(entry)
    if major is None or not contract:
        return  # GOV-006 names a bad id, GOV-001 a missing contract
    accepted = entry.accepted_contract or {}
    for change in breaking_changes(accepted, contract):
        yield Finding(
            change.where,
            f"{change.change} since the accepted contract {accepted.get('version')!r} of {entry.id}: consumers "
            "written against it break, so the change needs a new major",
            f"keep the column as it was (say in its description that it is deprecated), or publish the "
            f"change as urn:mesh:{entry.domain}:{entry.name}:v{major + 1} (contract {major + 1}.0.0) with its own "
            "topics and tables, beside this one until its consumers moved",
        )
    version = contract.get("version")
    match = _VERSION_MAJOR.match(str(version)) if isinstance(version, str | int) else None
    if match is None:
        yield Finding(
            "contract.version",
            f"is {version!r}: without a version nobody can tell a breaking change from a compatible one",
            f"give contract.yaml a `version` such as {major}.0.0",
        )
    elif int(match[1]) != major:
        yield Finding(
            "contract.version",
            f"is {version!r} (major {match[1]}) but the product id {entry.id} is major {major}: "
            "a contract that breaks compatibility needs a new product major, a compatible one keeps it",
            f"keep the contract at {major}.x.y, or publish the breaking contract as "
            f"urn:mesh:{entry.domain}:{entry.name}:v{match[1]} with its own topics and tables",
        )


# --- GOV-005 ------------------------------------------------------------------------------------------


def freshness_slo(entry: CatalogEntry, _params: Mapping[str, Any]) -> Iterator[Finding]:
    freshness = entry.slos.freshness_seconds
    if freshness is None:
        where = "descriptor.slos.freshness_seconds" if "slos" in _descriptor(entry) else "descriptor.slos"
        yield Finding(where, "is missing: the product promises no freshness")
    elif not math.isfinite(freshness) or freshness <= 0:
        yield Finding(
            "descriptor.slos.freshness_seconds",
            f"is {freshness:g}, expected a number of seconds greater than 0",
            "set `slos.freshness_seconds` to how old the newest row may be, in seconds",
        )


# --- GOV-006 ------------------------------------------------------------------------------------------


def naming(entry: CatalogEntry, _params: Mapping[str, Any]) -> Iterator[Finding]:
    yield from _id_names(entry)
    yield from _input_names(entry)
    match = PRODUCT_ID.match(entry.id)
    if match is None or (match["domain"], match["product"]) != (entry.domain, entry.name):
        return  # which is right is for the owner to say; the topics and tables are checked once they agree
    major = int(match["major"])
    yield from _contract_names(entry, major)
    yield from _served_names(entry, major)


def _id_names(entry: CatalogEntry) -> Iterator[Finding]:
    name_ok = re.fullmatch(r"[a-z][a-z0-9_-]*", entry.domain) and re.fullmatch(r"[a-z][a-z0-9_-]*", entry.name)
    suggestion = f"urn:mesh:{entry.domain}:{entry.name}:v1" if name_ok else "urn:mesh:<domain>:<product>:v<major>"
    match = PRODUCT_ID.match(entry.id)
    if match is None:
        yield Finding(
            "descriptor.id",
            f"is {entry.id!r}, expected urn:mesh:<domain>:<product>:v<major>",
            f"set `id: {suggestion}` in dataproduct.yaml (lower-case domain and name, a major version)",
        )
    elif (match["domain"], match["product"]) != (entry.domain, entry.name):
        yield Finding(
            "descriptor.id",
            f"is {entry.id!r}, naming {match['domain']}/{match['product']}, but descriptor.domain/name say "
            f"{entry.domain}/{entry.name}",
            f"make them agree: `id: urn:mesh:{entry.domain}:{entry.name}:v{match['major']}`, or change "
            "`domain` and `name`",
        )


def _input_names(entry: CatalogEntry) -> Iterator[Finding]:
    for i, port in _items(_descriptor(entry), "inputPorts"):
        where = f"descriptor.inputPorts[{i}]"
        kind, topic, product = port.get("kind"), port.get("topic"), port.get("product")
        if kind == "kafka" and isinstance(topic, str) and not MESH_TOPIC.match(topic):
            yield Finding(
                f"{where}.topic",
                f"is {topic!r}, expected <domain>.<product>.<port>.v<major>",
                "read the topic under its conventional name (ask its owner to publish one)",
            )
        elif kind == "cdc" and isinstance(topic, str) and not CDC_TOPIC.match(topic):
            yield Finding(
                f"{where}.topic",
                f"is {topic!r}, expected cdc.<database>.<schema>.<table>",
                "name the CDC topic cdc.<database>.<schema>.<table> (Debezium's topic.prefix is cdc.<database>)",
            )
        elif kind == "product" and isinstance(product, str) and not PRODUCT_ID.match(product):
            yield Finding(
                f"{where}.product",
                f"is {product!r}, expected a product id urn:mesh:<domain>:<product>:v<major>",
                "name the upstream product by its id, as the catalog lists it",
            )


def _iceberg_ports(entry: CatalogEntry) -> list[str]:
    return [p.name for p in entry.output_ports if p.kind == "iceberg"]


def _contract_names(entry: CatalogEntry, major: int) -> Iterator[Finding]:
    contract = _contract(entry)
    domain = contract.get("domain")
    if domain is not None and domain != entry.domain:
        yield Finding("contract.domain", f"is {domain!r}, expected the product's domain {entry.domain!r}")
    data_product = contract.get("dataProduct")
    if data_product is not None and data_product != f"{entry.domain}.{entry.name}":
        yield Finding("contract.dataProduct", f"is {data_product!r}, expected {entry.domain}.{entry.name!r}")
    ports = set(_iceberg_ports(entry))
    for i, table in _items(contract, "schema"):
        name, physical = table.get("name"), table.get("physicalName")
        if name in ports and physical is not None:
            expected = ProductName(entry.domain, entry.name, major).table_name(str(name))
            if physical != expected:
                yield Finding(
                    f"contract.schema[{i}].physicalName",
                    f"is {physical!r}, expected {expected!r} (<product>_<port>_v<major>)",
                    f"set `physicalName: {expected}`",
                )


def _served_names(entry: CatalogEntry, major: int) -> Iterator[Finding]:
    """The topics and tables the product says it serves (`ports` of its discovery document)."""
    ports = entry.document.get("ports")
    if not isinstance(ports, dict):
        return
    naming = ProductName(entry.domain, entry.name, major)
    namespace = naming.namespace
    tables = {p: naming.table(p) for p in _iceberg_ports(entry)}
    topic = re.compile(rf"^{re.escape(entry.domain)}\.{re.escape(entry.name)}\.[a-z0-9_-]+\.v{major}$")
    for key, value in ports.items():
        if not isinstance(value, str):
            continue
        if value.startswith("kafka://"):
            served = value.rsplit("/", 1)[-1]
            if not topic.match(served):
                yield Finding(
                    f"ports.{key}",
                    f"serves topic {served!r}, expected {entry.domain}.{entry.name}.<port>.v{major}",
                    "let the SDK name the topic (Descriptor.topic), or rename it by the convention",
                )
        elif key == "iceberg" or key.startswith("iceberg_"):
            served = value.split(" ", 1)[0]
            port = key.removeprefix("iceberg_") if key != "iceberg" else None
            expected = [tables[port]] if port in tables else sorted(tables.values())
            if served not in expected:
                yield Finding(
                    f"ports.{key}",
                    f"serves table {served!r}, expected {' or '.join(map(repr, expected)) or 'an Iceberg port'} "
                    f"(<product>_<port>_v<major> in namespace {namespace})",
                    "let the SDK name the table (Descriptor.table), or rename it by the convention",
                )


# --- GOV-007 ------------------------------------------------------------------------------------------


def latency_sla_matches_slo(entry: CatalogEntry, _params: Mapping[str, Any]) -> Iterator[Finding]:
    freshness = entry.slos.freshness_seconds
    contract = _contract(entry)
    if freshness is None or not contract:
        return  # GOV-005 / GOV-001
    add = f"add `{{property: latency, value: {freshness:g}, unit: s}}` to slaProperties"
    latencies = [(k, sla) for k, sla in _items(contract, "slaProperties") if sla.get("property") == "latency"]
    if not latencies:
        yield Finding(
            "contract.slaProperties",
            f"has no latency: the contract does not promise the freshness SLO of {freshness:g} s",
            add,
        )
        return
    k, sla = latencies[0]
    value, unit = sla.get("value"), str(sla.get("unit", "s")).lower()
    if unit not in _SECONDS_PER:
        yield Finding(f"contract.slaProperties[{k}].unit", f"is {unit!r}, not a unit of time", "use s, min, h or d")
        return
    if not isinstance(value, int | float) or isinstance(value, bool):
        yield Finding(f"contract.slaProperties[{k}].value", f"is {value!r}, expected a number", add)
        return
    seconds = value * _SECONDS_PER[unit]
    if not math.isclose(seconds, freshness):
        yield Finding(
            f"contract.slaProperties[{k}].value",
            f"promises {value:g} {unit} ({seconds:g} s) but descriptor.slos.freshness_seconds is {freshness:g}",
            f"make them agree: latency {freshness:g} s, or change the SLO",
        )


# --- GOV-008 ------------------------------------------------------------------------------------------


def pii_terms_of_use(entry: CatalogEntry, _params: Mapping[str, Any]) -> Iterator[Finding]:
    pii = [f"{table}.{column}" for _, table, column, prop in _columns(entry) if _is_pii(prop)]
    if not pii:
        return
    terms = [v for _, v in _custom(_contract(entry), "termsOfUse") if isinstance(v, str) and v.strip()]
    if not terms:
        shown = ", ".join(pii[:5]) + (f" and {len(pii) - 5} more" if len(pii) > 5 else "")
        yield Finding("contract.customProperties", f"has no termsOfUse although {shown} are personal data")


def column_lineage_declared(entry: CatalogEntry, _params: Mapping[str, Any]) -> Iterator[Finding]:
    """Every column names its sources or says how it is set; every source names a real input or table."""
    ports = [str(p.get("name")) for _, p in _items(_descriptor(entry), "inputPorts")]
    _found, problems = derivations(_contract(entry), ports)
    for problem in problems:
        yield Finding(f"contract.{problem.field}", problem.problem, problem.fix)
    for where, table, column, prop in _columns(entry):
        if not any(prop.get(k) for k in ("transformSourceObjects", "transformDescription", "transformLogic")):
            yield Finding(
                f"{where}.transformSourceObjects",
                f"column {table}.{column} says neither where its values come from nor how they are set",
            )


def masks_classified(entry: CatalogEntry, params: Mapping[str, Any]) -> Iterator[Finding]:
    """The product masks, on its query ports, each column of the classifications the policy names. Read from
    the policy state its discovery port reports (the catalog pushes the policies on the control topic)."""
    wanted = {c.lower() for c in _word_list(params.get("classifications"))}
    policy = entry.document.get("policy")
    masked = set(policy.get("masked") or []) if isinstance(policy, dict) else set()
    for _where, table, column, prop in _columns(entry):
        classification = str(prop.get("classification") or "").lower()
        if classification in wanted and column not in masked:
            yield Finding(
                "policy.masked",
                f"column {table}.{column} is classified {classification} but its ports serve it unmasked",
                "the product applies the policies the catalog publishes on the control topic (mesh.control): "
                "check its log for the control topic, or restart it",
            )


def access_enforced(entry: CatalogEntry, _params: Mapping[str, Any]) -> Iterator[Finding]:
    """The product's ports let in only granted consumers and mask, without a PII grant, every column its
    contract classifies pii: read from the access section its discovery port reports."""
    access = entry.document.get("access")
    if not isinstance(access, dict):
        yield Finding(
            "access",
            "the discovery port reports no access control: its ports may serve anyone",
            "run the product on the mesh's SDK, whose ports ask the access gate (mesh_sdk.access.gate)",
        )
        return
    masked = set(access.get("pii_columns") or [])
    for _where, table, column, prop in _columns(entry):
        if _is_pii(prop) and column not in masked:
            yield Finding(
                "access.pii_columns",
                f"column {table}.{column} is classified pii but is not masked for consumers without a PII grant",
                "restart the product after changing its contract: the gate reads the classification at start",
            )


def fields_present(entry: CatalogEntry, params: Mapping[str, Any]) -> Iterator[Finding]:
    """Each field the policy names (a dotted path in the discovery document, such as `descriptor.tags`
    or `contract.description.purpose`) is present and not empty: a new policy of this kind needs no code."""
    for path in _word_list(params.get("fields")):
        value: Any = entry.document
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None or (isinstance(value, str | list | dict) and not value):
            yield Finding(path, "is missing or empty")


# --- GOV-013 ------------------------------------------------------------------------------------------


def inputs_declared(entry: CatalogEntry, _params: Mapping[str, Any]) -> Iterator[Finding]:
    """What the product read from the lakehouse by a table's name, bypassing its input ports (as its
    discovery port reports it): a dependency its upstream owners cannot see, and will break."""
    reads = entry.document.get("undeclared_reads")
    for i, read in enumerate(reads if isinstance(reads, list) else []):
        if not isinstance(read, Mapping):
            continue
        table, port = read.get("table"), read.get("port")
        owner = f" ({str(port).replace('/', ', port ')})" if port else ""
        product, _, upstream_port = str(port or "").partition("/")
        yield Finding(
            f"undeclared_reads[{i}]",
            f"reads table {table}{owner} straight from the lakehouse, without an input port: its owners do "
            "not know this product depends on it, and may change or drop it",
            f"declare an input port (kind: product, product: {product}, port: {upstream_port}, read: snapshot) "
            "and read the port by its name"
            if port
            else "declare an input port on the product that owns the table, and read the port by its name",
        )


# --- GOV-014 ------------------------------------------------------------------------------------------


def strategy_stated(entry: CatalogEntry, _params: Mapping[str, Any]) -> Iterator[Finding]:
    """The business objective the product serves, and who consumes it with what skills: most failures
    of a mesh are products nobody named a consumer for (DESIGN §8, decision 0)."""
    if not entry.business_objective.strip():
        yield Finding("descriptor.businessObjective", "is missing: nobody can tell what the product is for")
    if not entry.personas:
        yield Finding("descriptor.personas", "is missing: the product names no consumer")
    for i, persona in enumerate(entry.personas):
        if not persona.needs.strip():
            yield Finding(f"descriptor.personas[{i}].needs", f"is missing: what does {persona.role!r} use it for?")
        if not persona.skills:
            yield Finding(
                f"descriptor.personas[{i}].skills",
                f"is missing: which tools does {persona.role!r} work with (SQL, BI tools, Python, a stream)?",
            )


RULES: dict[str, Rule] = {
    "access_enforced": Rule(access_enforced),
    "owner_and_contract": Rule(owner_and_contract),
    "columns_classified": Rule(columns_classified, {"classifications": "list of text"}),
    "pii_maskable": Rule(pii_maskable),
    "backward_compatible": Rule(backward_compatible, {"allowed": "list of text", "registry_default": "text"}),
    "freshness_slo": Rule(freshness_slo),
    "naming": Rule(naming),
    "latency_sla_matches_slo": Rule(latency_sla_matches_slo),
    "pii_terms_of_use": Rule(pii_terms_of_use),
    "column_lineage_declared": Rule(column_lineage_declared),
    "masks_classified": Rule(masks_classified, {"classifications": "list of text"}),
    "fields_present": Rule(fields_present, {"fields": "list of text"}),
    "inputs_declared": Rule(inputs_declared),
    "strategy_stated": Rule(strategy_stated),
}
