"""The audit log's knobs, as ``MESH_AUDIT_<FIELD>`` environment variables (beside mesh_config's
settings, which say where the servers are). Light on purpose: process supervisors import it."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

TABLE = "mesh.audit_log_v1"
PREFIX = "chain/"
# librdkafka regex subscriptions: a pattern must begin with "^".
CDC_PATTERN = r"^cdc\..+"
# A product's change streams: its `stream` port, and any other Kafka output port named `<what>-stream`
# (customer-360's stewardship decisions); never the PII-masked twins (`stream-masked`), copies of them.
STREAM_PATTERN = r"^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_-]*\.([a-z0-9-]+-)?stream\.v[0-9]+$"
ACCESS_PATTERN = r"^mesh\.access$"  # every data access on the products' ports (mesh_sdk.access.gate)
DEADLETTER_TOPIC = "mesh.audit.dlq"
RETENTION_DAYS = 3650.0


class AuditOptions(BaseSettings):
    # No field may be called "bucket": MESH_AUDIT_BUCKET is mesh_config's `audit_bucket`.
    model_config = SettingsConfigDict(env_prefix="MESH_AUDIT_", frozen=True)

    table: str = Field(TABLE, description="the Iceberg table, namespace.name")
    object_prefix: str = Field(PREFIX, description="key prefix of the locked objects in the audit bucket")
    cdc_pattern: str = CDC_PATTERN
    stream_pattern: str = STREAM_PATTERN
    access_pattern: str = ACCESS_PATTERN
    deadletter_topic: str = DEADLETTER_TOPIC
    retention_days: float = Field(RETENTION_DAYS, gt=0, description="Object Lock (COMPLIANCE) retention")
    batch_size: int = Field(5000, gt=0, description="most changes in one micro-batch")
    batch_interval_ms: int = Field(200, gt=0, description="longest wait, after a batch's first change, to commit")
    metadata_refresh_ms: int = Field(5000, gt=0, description="how soon new topics are noticed")

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)

    def environment(self) -> dict[str, str]:
        """The variables that give another process these options (those that differ from the defaults)."""
        return {f"MESH_AUDIT_{k.upper()}": str(v) for k, v in self.model_dump(exclude_defaults=True).items()}


def load_options(**overrides: object) -> AuditOptions:
    """Options from the environment; keyword overrides (None: not given) win."""
    return AuditOptions(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
