"""`dataproduct.yaml`: what a product is, who owns it, what it consumes and offers, what it promises."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mesh_config.naming import PRODUCT_ID, ProductName
from mesh_sdk.spec.errors import SpecError, SpecProblem, field_path


class ProductType(StrEnum):
    """The product types of the design framework (DESIGN §8, decision 1). `decision-support` and
    `ml-model` are the two kinds of algorithm product."""

    RAW = "raw"
    DERIVED = "derived"
    DECISION_SUPPORT = "decision-support"
    ML_MODEL = "ml-model"
    HYBRID = "hybrid"
    COMPOSITE = "composite"

    @property
    def family(self) -> str:
        """`algorithm` for both kinds of algorithm product, the type itself otherwise."""
        return ALGORITHM if self in (ProductType.DECISION_SUPPORT, ProductType.ML_MODEL) else self.value

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]

    @classmethod
    def meaning_of(cls, name: str) -> str | None:
        """What a type of this name means (None: not a type of the framework)."""
        known = {t.value: t for t in cls}
        return known[name].meaning if name in known else None

    @classmethod
    def filter(cls, wanted: str | None) -> frozenset[str] | None:
        """The types a catalog filter names: one type, or `algorithm` for both kinds (None: any);
        a ValueError lists the names there are."""
        if wanted is None:
            return None
        if wanted == ALGORITHM:
            return frozenset(t.value for t in cls if t.family == ALGORITHM)
        if wanted in {t.value for t in cls}:
            return frozenset({wanted})
        names = ", ".join([*(t.value for t in cls), ALGORITHM])
        raise ValueError(f"type is {wanted!r}, expected one of {names}")


ALGORITHM = "algorithm"

_MEANINGS = {
    ProductType.RAW: "source-aligned: an operational system's data as it happened, cleaned but not reshaped; "
    "rarely an end in itself, it feeds the others",
    ProductType.DERIVED: "curated from other products: joined, aggregated or reshaped for a use; often the input "
    "of machine learning",
    ProductType.DECISION_SUPPORT: "an algorithm for people who decide: KPIs and reports, read with BI tools",
    ProductType.ML_MODEL: "an algorithm for machines: a trained model, its evaluation and its predictions",
    ProductType.HYBRID: "raw and derived ports side by side on one product: the records as received beside "
    "what is derived from them",
    ProductType.COMPOSITE: "derived data merged with an algorithm's output in one product",
}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Owner(_Spec):
    team: str = Field(min_length=1)
    contact: str = Field(min_length=3, description="e-mail or chat channel of the owning team")


class Persona(_Spec):
    """Who consumes the product, what they need it for and the skills they bring (DESIGN §8, decision 0:
    name the consumer before building)."""

    role: str = Field(min_length=3, description="who, for example `churn analyst`")
    needs: str = Field(min_length=10, description="what they use the product for")
    skills: list[str] = Field(default_factory=list, description="the tools they work with: SQL, BI tools, Python...")


class KafkaInput(_Spec):
    name: str
    kind: Literal["kafka"]
    topic: str
    format: Literal["avro"] = "avro"
    schema_file: str = Field(alias="schema", description="Avro schema under schemas/")


class ProductInput(_Spec):
    """Another product's output port: its stream of changes (Kafka), or one of its Iceberg tables,
    read either as the rows its new snapshots appended or as a whole snapshot (a lookup)."""

    name: str
    kind: Literal["product"]
    product: str = Field(description="id of the upstream product")
    port: str = Field("stream", description="the upstream product's output port")
    read: Literal["stream", "increments", "snapshot"] = Field(
        "stream",
        description="stream: its Kafka port; increments: rows appended by new snapshots of an append-only "
        "Iceberg port; snapshot: the whole table as of its newest snapshot",
    )

    @field_validator("product")
    @classmethod
    def _is_a_product_id(cls, value: str) -> str:
        if not PRODUCT_ID.match(value):
            raise ValueError("must be a product id: urn:mesh:<domain>:<product>:v<major>")
        return value

    @property
    def topic(self) -> str:
        """The upstream port's topic, by the mesh's naming convention (never the upstream's internals)."""
        return ProductName.of(self.product).topic(self.port)

    @property
    def table(self) -> str:
        """The upstream port's Iceberg table, by the same convention as `Descriptor.table`."""
        return ProductName.of(self.product).table(self.port)

    @property
    def from_lakehouse(self) -> bool:
        return self.read != "stream"


class CdcInput(_Spec):
    """Change events of one table of an operational database (Debezium), or the events its outbox
    publishes. The product keeps `state` (a schema object of its contract) current from them, and
    every change in its `changes` history."""

    name: str
    kind: Literal["cdc"]
    topic: str = Field(pattern=r"^cdc\.[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$", description="cdc.<db>.<schema>.<table>")
    style: Literal["table", "outbox"] = Field("table", description="row changes, or transactional-outbox events")
    state: str = Field(description="the contract's schema object holding the current rows")


InputPort = Annotated[KafkaInput | ProductInput | CdcInput, Field(discriminator="kind")]


class OutputPort(_Spec):
    name: str
    kind: Literal["iceberg", "kafka", "rest", "graphql", "sql"]
    description: str = ""
    source: str | None = Field(
        None, description="a derived product's Kafka port: the Iceberg port whose changes it carries"
    )


class Refresh(_Spec):
    """How often a derived product looks at its inputs; it recomputes only when one of them has a
    new snapshot (or when told to, on its control port)."""

    every_seconds: float = Field(1.0, gt=0, description="seconds between looks at the inputs")


class Slos(_Spec):
    freshness_seconds: float = Field(gt=0, description="the newest row is at most this old")
    availability: float = Field(gt=0, le=1, description="fraction of time the output ports answer")


class Descriptor(_Spec):
    id: str
    domain: str
    name: str
    type: ProductType
    description: str = Field(min_length=10)
    owner: Owner
    # Optional here so that governance, not the SDK, judges a product without them: it warns.
    business_objective: str | None = Field(
        None, alias="businessObjective", min_length=10, description="the business objective the product serves"
    )
    personas: list[Persona] = Field(default_factory=list, description="who consumes it, and why")
    tags: list[str] = Field(default_factory=list, description="words people search the catalog by")
    input_ports: list[InputPort] = Field(alias="inputPorts", min_length=1)
    output_ports: list[OutputPort] = Field(alias="outputPorts", min_length=1)
    slos: Slos
    refresh: Refresh | None = Field(None, description="derived products: when to recompute")

    @field_validator("id")
    @classmethod
    def _id_is_a_mesh_urn(cls, value: str) -> str:
        if not PRODUCT_ID.match(value):
            raise ValueError("must look like urn:mesh:<domain>:<product>:v<major>")
        return value

    @model_validator(mode="after")
    def _id_agrees_with_domain_and_name(self) -> Descriptor:
        match = PRODUCT_ID.match(self.id)
        assert match is not None
        if match["domain"] != self.domain or match["product"] != self.name:
            raise ValueError(
                f"id {self.id} names domain/product {match['domain']}/{match['product']}, "
                f"but domain/name say {self.domain}/{self.name}"
            )
        return self

    @property
    def major(self) -> int:
        return ProductName.of(self.id).major

    def topic(self, port: str) -> str:
        """Kafka topic of one of this product's ports: <domain>.<product>.<port>.v<major>."""
        return ProductName.of(self.id).topic(port)

    def table(self, port: str) -> str:
        """Iceberg table of an output port: <domain namespace>.<product>_<port>_v<major>."""
        return ProductName.of(self.id).table(port)

    @property
    def avro_namespace(self) -> str:
        """The namespace of the Avro records of its streams: streamline.<domain>.<product>, as identifiers."""
        return ProductName.of(self.id).avro_namespace


_FIXES = {
    "missing": "add the field",
    "extra_forbidden": "remove it, or check its spelling against the descriptor reference in products/README.md",
    "string_too_short": "write a longer value",
    "too_short": "list at least one entry",
    "enum": "use one of the allowed values",
    "literal_error": "use one of the allowed values",
    "union_tag_invalid": "set `kind` to kafka, product or cdc",
}


def load_descriptor(path: Path) -> Descriptor:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem(path, "", f"not valid YAML ({exc})", "fix the YAML syntax")]) from exc
    try:
        return Descriptor.model_validate(raw)
    except ValidationError as exc:
        problems = [
            SpecProblem(path, field_path(err["loc"]), err["msg"], _FIXES.get(err["type"], "correct the value"))
            for err in exc.errors()
        ]
        raise SpecError(problems) from None
