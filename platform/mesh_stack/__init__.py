"""The embedded stack: real servers (PostgreSQL, SeaweedFS S3, Kafka, Apicurio Registry, Kafka Connect
with Debezium, the Iceberg catalog) supervised on loopback, without Docker."""

from mesh_stack.errors import StackError
from mesh_stack.stack import Stack

__all__ = ["Stack", "StackError"]
