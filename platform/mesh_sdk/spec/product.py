"""A data product as its folder describes it: descriptor, contract, schemas, queries and domain logic."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from mesh_sdk.spec.agreement import disagreements
from mesh_sdk.spec.column_lineage import derivations
from mesh_sdk.spec.contract import Contract, load_contract
from mesh_sdk.spec.descriptor import CdcInput, Descriptor, KafkaInput, ProductInput, load_descriptor
from mesh_sdk.spec.errors import SpecError, SpecProblem
from mesh_sdk.spec.logic import BatchContext, Transform
from mesh_sdk.spec.sql_logic import FOLDER as SQL_FOLDER
from mesh_sdk.spec.sql_logic import sql_derivation, sql_problems

SCHEMAS_DIR = Path(__file__).resolve().parents[3] / "schemas"
HISTORY = "history"
CHANGES = "changes"


@dataclass(frozen=True)
class NamedQuery:
    name: str
    language: str  # sql | graphql
    description: str
    text: str


@dataclass(frozen=True)
class DataProduct:
    folder: Path
    descriptor: Descriptor
    contract: Contract
    input_schemas: dict[str, dict[str, Any]]  # input port name -> Avro schema
    queries: list[NamedQuery]
    transform: Transform
    # A derived product's logic: the class product.py names `Derivation` (see mesh_sdk.spec.logic).
    derivation: type | None = None

    @property
    def id(self) -> str:
        return self.descriptor.id

    @property
    def derived(self) -> bool:
        """Fed by other products' lakehouse ports rather than by Kafka topics."""
        return is_derived(self.descriptor)

    def output_tables(self) -> list[str]:
        """The Iceberg output ports, in the order a derived product commits them."""
        return [p.name for p in self.descriptor.output_ports if p.kind == "iceberg"]

    def kafka_inputs(self) -> list[KafkaInput]:
        return [p for p in self.descriptor.input_ports if isinstance(p, KafkaInput)]

    def product_inputs(self) -> list[ProductInput]:
        return [p for p in self.descriptor.input_ports if isinstance(p, ProductInput)]

    def cdc_input(self) -> CdcInput | None:
        return next(iter(self.cdc_inputs()), None)

    def cdc_inputs(self) -> list[CdcInput]:
        """Usually one captured table; two or more while the entity moves from one system to another
        (the strangler fig), each change owned by exactly one of them."""
        return [p for p in self.descriptor.input_ports if isinstance(p, CdcInput)]

    @property
    def history_port(self) -> str:
        """The append-only table every input record lands in, with the input offsets."""
        return CHANGES if self.cdc_input() is not None else HISTORY

    @property
    def served_port(self) -> str:
        """The table REST and GraphQL serve: the current state of a captured table, a derived
        product's first table, else the history."""
        if self.derived:
            return self.output_tables()[0]
        cdc = self.cdc_input()
        return cdc.state if cdc is not None else HISTORY


def is_derived(descriptor: Descriptor) -> bool:
    return all(isinstance(p, ProductInput) and p.from_lakehouse for p in descriptor.input_ports)


def _identity(record: Mapping[str, Any], _batch: BatchContext) -> Mapping[str, Any]:
    return record


def _load_module(folder: Path) -> ModuleType | None:
    """product.py as a module named after the folder and its code: loading the same code again gives
    the same module (its classes stay the ones the running product's objects are made of), and a
    derivation's saved state (pickled: mesh_sdk.derive.state) is read back only by the code that wrote it."""
    path = folder / "product.py"
    if not path.exists():
        return None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    name = f"mesh_product_{folder.name.replace('.', '_').replace('-', '_')}_{digest}"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses and pickling look their module up by name.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def _load_logic(folder: Path, module: ModuleType | None) -> Transform:
    if module is None:
        return _identity
    path = folder / "product.py"
    transform = getattr(module, "transform", None)
    if not callable(transform):
        raise SpecError(
            [
                SpecProblem(
                    path,
                    "transform",
                    "product.py defines no transform(record, batch)",
                    "define the function that turns an input record into an output row",
                )
            ]
        )
    return transform  # type: ignore[no-any-return]


def _load_derivation(folder: Path, module: ModuleType | None) -> type:
    derivation = getattr(module, "Derivation", None) if module is not None else None
    if not isinstance(derivation, type):
        raise SpecError(
            [
                SpecProblem(
                    folder / "product.py",
                    "Derivation",
                    "a derived product's product.py defines no class Derivation",
                    "define class Derivation with refresh(inputs) -> {output port: Update} (see mesh_sdk.spec.logic), "
                    "or write it in SQL: no product.py, a derivation/<output port>.sql per Iceberg output port",
                )
            ]
        )
    return derivation


def _load_queries(folder: Path) -> list[NamedQuery]:
    queries = []
    for path in sorted((folder / "queries").glob("*")):
        if path.suffix not in (".sql", ".graphql"):
            continue
        text = path.read_text()
        comment = "--" if path.suffix == ".sql" else "#"
        description = " ".join(
            line.removeprefix(comment).strip() for line in text.splitlines() if line.startswith(comment)
        )
        queries.append(NamedQuery(path.stem, path.suffix[1:], description, text))
    return queries


def load_product(folder: Path, schemas_dir: Path = SCHEMAS_DIR) -> DataProduct:
    """Load and cross-check a product folder; every problem found is reported at once."""
    folder = folder.resolve()
    descriptor = load_descriptor(folder / "dataproduct.yaml")
    contract = load_contract(folder / "contract.yaml")
    if is_derived(descriptor):
        return _load_derived(folder, descriptor, contract)
    problems: list[SpecProblem] = []
    input_schemas: dict[str, dict[str, Any]] = {}
    cdc = [p for p in descriptor.input_ports if isinstance(p, CdcInput)]
    history = CHANGES if cdc else HISTORY
    props = _properties(contract, history, problems, "name the output table's schema object after its port")
    problems += _cdc_problems(folder, descriptor, contract, cdc, props)
    for port in descriptor.input_ports:
        if not isinstance(port, KafkaInput):
            continue
        avro_path = schemas_dir / port.schema_file
        try:
            avro = json.loads(avro_path.read_text())
        except (OSError, ValueError) as exc:
            problems.append(
                SpecProblem(
                    descriptor_path(folder),
                    f"inputPorts.{port.name}.schema",
                    f"cannot read {avro_path}: {exc}",
                    "point at an Avro schema under schemas/",
                )
            )
            continue
        input_schemas[port.name] = avro
        problems += disagreements(avro, avro_path, props, contract.path)
    problems += _id_problems(descriptor, contract) + _lineage_problems(descriptor, contract, input_schemas)
    if problems:
        raise SpecError(problems)
    logic = _load_logic(folder, _load_module(folder))
    return DataProduct(folder, descriptor, contract, input_schemas, _load_queries(folder), logic)


def _load_derived(folder: Path, descriptor: Descriptor, contract: Contract) -> DataProduct:
    """A derived product: each Iceberg output port is a schema object of the contract, with a key (its
    rows are replaced by key), and each Kafka port carries one of those tables."""
    problems: list[SpecProblem] = []
    tables = [p.name for p in descriptor.output_ports if p.kind == "iceberg"]
    if not tables:
        problems.append(
            SpecProblem(
                descriptor_path(folder),
                "outputPorts",
                "a derived product has no Iceberg output port",
                "declare each table it offers as an output port of kind iceberg",
            )
        )
    for name in tables:
        if _properties(contract, name, problems, "describe each Iceberg output port as a schema object") and (
            not contract.primary_key(name)
        ):
            problems.append(
                SpecProblem(
                    contract.path,
                    f"schema.{name}",
                    f"table {name!r} has no primary key",
                    "mark the columns that identify a row with primaryKey: true: rows are replaced by key",
                )
            )
    for port in descriptor.output_ports:
        if port.kind == "kafka" and port.source not in tables:
            problems.append(
                SpecProblem(
                    descriptor_path(folder),
                    f"outputPorts.{port.name}.source",
                    f"the stream port carries {port.source!r}, which is not an Iceberg output port",
                    f"set source to one of {tables}",
                )
            )
    problems += _id_problems(descriptor, contract) + _lineage_problems(descriptor, contract, {})
    written_in_sql = not (folder / "product.py").exists() and (folder / SQL_FOLDER).is_dir()
    if written_in_sql:
        problems += sql_problems(folder, tables)
    module = None if written_in_sql else _load_module(folder)
    if problems:
        raise SpecError(problems)
    derivation = sql_derivation(folder) if written_in_sql else _load_derivation(folder, module)
    return DataProduct(folder, descriptor, contract, {}, _load_queries(folder), _identity, derivation)


def _id_problems(descriptor: Descriptor, contract: Contract) -> list[SpecProblem]:
    if contract.model.id == descriptor.id:
        return []
    return [
        SpecProblem(
            contract.path,
            "id",
            f"contract id {contract.model.id} is not the product id {descriptor.id}",
            "use the descriptor's id",
        )
    ]


def _lineage_problems(
    descriptor: Descriptor, contract: Contract, input_schemas: dict[str, dict[str, Any]]
) -> list[SpecProblem]:
    """Each column's declared sources name a real input port or table, and a column that exists where
    the product can tell (its own tables, the Avro records of its Kafka inputs); the columns of other
    products and of captured tables are checked by the catalog, which has their documents."""
    raw = yaml.safe_load(contract.path.read_text())
    found, lineage_problems = derivations(raw, [p.name for p in descriptor.input_ports])
    problems = [SpecProblem(contract.path, p.field, p.problem, p.fix) for p in lineage_problems]
    columns = {o.name: {p.name for p in o.properties or []} for o in contract.model.schema_ or []}
    fields = {port: {f["name"] for f in avro.get("fields", [])} for port, avro in input_schemas.items()}
    for d in found:
        for ref in d.sources:
            known = columns.get(ref.name) if ref.via == "table" else fields.get(ref.name)
            if known is not None and ref.column not in known:
                problems.append(
                    SpecProblem(
                        contract.path,
                        f"schema.{d.table}.properties.{d.column}.transformSourceObjects",
                        f"{ref} names no column of {ref.name!r}",
                        f"use one of {sorted(known)}",
                    )
                )
    return problems


def _properties(contract: Contract, name: str, problems: list[SpecProblem], fix: str) -> list[Any]:
    try:
        return list(contract.properties(name))
    except KeyError:
        problems.append(SpecProblem(contract.path, "schema", f"no schema object named {name!r}", fix))
        return []


def _cdc_problems(
    folder: Path, descriptor: Descriptor, contract: Contract, cdc: list[CdcInput], changes: list[Any]
) -> list[SpecProblem]:
    """A captured table's product keeps one current state and one change history that can rebuild it."""
    if not cdc:
        return []
    problems: list[SpecProblem] = []
    if len(cdc) < len(descriptor.input_ports) or len({p.state for p in cdc}) > 1:
        problems.append(
            SpecProblem(
                descriptor_path(folder),
                "inputPorts",
                "a product fed by change data capture reads captured changes of one entity only "
                "(several input ports only while that entity moves between systems, all into one state)",
                "make one product per captured table",
            )
        )
    state = _properties(
        contract, cdc[0].state, problems, f"describe the current rows as schema object {cdc[0].state!r}"
    )
    names = {p.name for p in changes}
    for column in ("op", "position", "ingested_at"):
        if changes and column not in names:
            problems.append(
                SpecProblem(
                    contract.path,
                    f"schema.{CHANGES}.properties",
                    f"the change history has no {column!r} column",
                    "add it: op says insert/update/delete, position orders changes, ingested_at dates batches",
                )
            )
    missing = [p.name for p in state if p.name not in names]
    if missing:
        problems.append(
            SpecProblem(
                contract.path,
                f"schema.{cdc[0].state}.properties",
                f"columns {missing} of the current state are not in the change history",
                "every current-state column must be a column of the changes it is derived from",
            )
        )
    if state and not contract.primary_key(cdc[0].state):
        problems.append(
            SpecProblem(
                contract.path,
                f"schema.{cdc[0].state}",
                "the current state has no primary key",
                "mark the captured table's key columns with primaryKey: true",
            )
        )
    return problems


def descriptor_path(folder: Path) -> Path:
    return folder / "dataproduct.yaml"


def dump(product: DataProduct) -> dict[str, Any]:
    """The product's own description, as the discovery port serves it (a running product adds what its
    access gate knows to `access`)."""
    contract = yaml.safe_load(product.contract.path.read_text())
    pii = sorted(
        {
            str(p.get("name"))
            for table in contract.get("schema") or []
            for p in table.get("properties") or []
            if str(p.get("classification") or "").lower() == "pii"
        }
    )
    return {
        "descriptor": product.descriptor.model_dump(by_alias=True, mode="json"),
        "contract": contract,
        "schemas": product.input_schemas,
        "queries": [q.__dict__ for q in product.queries],
        "access": {"authentication": AUTHENTICATION, "pii_columns": pii},
    }


# How a consumer proves who it is on each port (the same API key everywhere).
AUTHENTICATION = {
    "http": "Authorization: Bearer <API key> (or X-API-Key: <API key>)",
    "sql": "user <consumer>, password <API key>",
    "kafka": "SASL/SCRAM-SHA-256, username <consumer>, password <API key> (the newest); consumer groups "
    "<consumer>.<anything>; a stream with PII needs a grant with PII, its twin <port>-masked does not",
    "lakehouse": "S3 credentials from mesh access lakehouse: the granted products' tables, read-only; a "
    "table with PII needs a grant with PII, its twin <product>_<port>_masked_v<major> does not",
}
