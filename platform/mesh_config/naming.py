"""The mesh's naming convention, in one place: a product's id names its Kafka topics and Iceberg tables,
so any service can find them from the id alone and never from a product's internals."""

from __future__ import annotations

import re
from dataclasses import dataclass

PRODUCT_ID = re.compile(r"^urn:mesh:(?P<domain>[a-z][a-z0-9_-]*):(?P<product>[a-z][a-z0-9_-]*):v(?P<major>\d+)$")
_TOPIC = re.compile(
    r"^(?P<domain>[a-z][a-z0-9_-]*)\.(?P<product>[a-z][a-z0-9_-]*)\.(?P<port>[a-z][a-z0-9_-]*)\.v(?P<major>\d+)$"
)


@dataclass(frozen=True)
class ProductName:
    domain: str
    product: str
    major: int

    @classmethod
    def of(cls, product_id: str) -> ProductName:
        match = PRODUCT_ID.match(product_id)
        if match is None:
            raise ValueError(f"{product_id!r} is not a product id: urn:mesh:<domain>:<product>:v<major>")
        return cls(match["domain"], match["product"], int(match["major"]))

    @property
    def id(self) -> str:
        return f"urn:mesh:{self.domain}:{self.product}:v{self.major}"

    @property
    def namespace(self) -> str:
        """The Iceberg namespace of the product's domain (identifiers take no hyphens)."""
        return self.domain.replace("-", "_")

    @property
    def avro_namespace(self) -> str:
        """The namespace of the product's Avro records (Avro names take no hyphens either)."""
        return f"streamline.{self.namespace}.{self.product.replace('-', '_')}"

    def topic(self, port: str) -> str:
        """<domain>.<product>.<port>.v<major>"""
        return f"{self.domain}.{self.product}.{port}.v{self.major}"

    def table_name(self, port: str) -> str:
        """<product>_<port>_v<major>, the table's name within its namespace."""
        return f"{self.product.replace('-', '_')}_{port}_v{self.major}"

    def table(self, port: str) -> str:
        """<domain namespace>.<product>_<port>_v<major>"""
        return f"{self.namespace}.{self.table_name(port)}"

    # A product with PII keeps a twin of each stream and table with the PII masked, for the servers that
    # cannot mask a field themselves (the broker, the object store).

    def masked_topic(self, port: str) -> str:
        return self.topic(f"{port}-masked")

    def masked_table(self, port: str) -> str:
        return self.table(f"{port}_masked")


def product_of_topic(topic: str) -> str | None:
    """The id of the product a topic belongs to (None: not a product's topic)."""
    match = _TOPIC.match(topic)
    return f"urn:mesh:{match['domain']}:{match['product']}:v{match['major']}" if match else None
