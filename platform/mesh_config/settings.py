"""Settings for every client and server of the mesh, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The checkout this package was installed from (editable install): its `.mesh/` holds local state.
_PROJECT_ROOT = Path(__file__).resolve().parents[2]

DOMAINS = (
    "subscriptions",
    "content",
    "playback",
    "engagement",
    "recommendations",
    "content_insights",
    "crm",
    "customers",
)


class MeshSettings(BaseSettings):
    """Every knob, as ``MESH_<FIELD>``. Defaults describe the embedded stack on loopback."""

    model_config = SettingsConfigDict(env_prefix="MESH_", frozen=True)

    home: Path = Field(_PROJECT_ROOT / ".mesh", description="state: server data, logs, pid files")
    cache_dir: Path = Field(Path.home() / ".cache" / "mesh", description="downloaded JVM artifacts")
    # An offline bundle (`mesh bundle export`): the JVM artifacts are taken from it before the network.
    bundle: Path | None = Field(None, description="an offline bundle folder (mesh bundle export)")

    @field_validator("bundle", mode="before")
    @classmethod
    def _no_bundle_when_empty(cls, value: object) -> object:
        # `MESH_BUNDLE=` (as `make` passes an unset variable) means none, not the current directory.
        return None if value == "" else value

    host: str = "127.0.0.1"
    java_home: Path | None = Field(None, description="JDK 17+ for Kafka, Connect and the registry")
    service_user: str = Field("mesh", description="unprivileged user that runs PostgreSQL when invoked as root")

    postgres_port: int = 15432
    postgres_user: str = "mesh"
    postgres_password: str = "mesh"
    postgres_host: str | None = None

    s3_port: int = 18333
    s3_master_port: int = 19333
    s3_volume_port: int = 18340
    s3_filer_port: int = 18888
    s3_admin_port: int = 18646
    # The object store reports every request it serves here (Fluentd's forward protocol); the catalog
    # listens and appends consumers' lakehouse reads to the access log.
    s3_access_log_port: int = 18349
    s3_endpoint: str | None = None
    s3_access_key: str = "mesh"
    s3_secret_key: str = "mesh-secret-key"
    s3_region: str = "us-east-1"
    warehouse_bucket: str = "lakehouse"
    audit_bucket: str = "mesh-audit"
    artifacts_bucket: str = "mesh-artifacts"  # products' files that are not tables: trained models

    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    # A second broker listener for clients that come through Toxiproxy (the network faults): it advertises
    # the proxy's address, so that a client bootstrapped on the proxy keeps talking through it.
    kafka_proxied_listener_port: int = 19094
    kafka_bootstrap: str | None = None
    # Every client authenticates and the broker authorizes each request (ACLs). The platform's own services
    # and products use this principal, a super user, over SASL/PLAIN (the broker's configuration holds it, so
    # it works the moment the broker listens); consumers use their own identities over SCRAM.
    kafka_security_protocol: str = Field("SASL_PLAINTEXT", description="SASL_PLAINTEXT, or PLAINTEXT: no auth")
    kafka_sasl_mechanism: str = "SCRAM-SHA-256"
    kafka_user: str = "mesh-platform"
    kafka_password: str = "mesh-platform-secret"

    registry_port: int = 18081
    registry_management_port: int = 18091
    registry_url: str | None = None

    connect_port: int = 18083
    connect_url: str | None = None

    # Toxiproxy, a TCP proxy that injects latency and partitions (`mesh chaos`): it runs only while a
    # network fault does, always on 127.0.0.1, with a proxy in front of the broker and one in front of S3.
    toxiproxy_port: int = 18474  # its HTTP API
    toxiproxy_kafka_port: int = 19095
    toxiproxy_s3_port: int = 18335

    # `mesh demo` runs its products on consecutive ports from these (REST etc., and the SQL port).
    products_http_port: int = 18100
    products_sql_port: int = 15433
    # How the products' SQL ports log PostgreSQL clients in: scram-sha-256 (the key never crosses the
    # wire), or password (cleartext, for a client that cannot do SCRAM: ask for it only on loopback or
    # with TLS). TLS: on (offered: sslmode=require works, plain text too), required, or off. The
    # certificate is the mesh's own (made under `home`/tls) unless both files are given.
    sql_auth: Literal["scram-sha-256", "password"] = "scram-sha-256"
    sql_tls: Literal["on", "required", "off"] = "on"
    sql_tls_certificate: Path | None = Field(None, description="PEM certificate for the SQL ports' TLS")
    sql_tls_key: Path | None = Field(None, description="its private key (PEM)")

    catalog_name: str = "mesh"
    catalog_uri: str | None = None

    # The mesh's data product catalog (mesh_catalog), not the Iceberg catalog above (`catalog_*`):
    # hence `product_catalog_*`. Products register there at start; it re-reads them every pull.
    product_catalog_port: int = 18090
    product_catalog_url: str | None = None
    product_catalog_pull_s: float = 10.0
    # The mesh's global policies (mesh_governance), versioned in the repository; the catalog applies them.
    policies_file: Path = Field(_PROJECT_ROOT / "governance" / "policies.yaml", description="governance policies")
    products_dir: Path = Field(_PROJECT_ROOT / "products", description="the product folders `mesh demo` runs")
    labs_dir: Path = Field(_PROJECT_ROOT / "labs", description="the hands-on labs `mesh lab` runs")
    faults_dir: Path = Field(_PROJECT_ROOT / "faults", description="the fault catalogue `mesh chaos` runs")

    # Creates consumer identities at the catalog's access API; generated under `home` when not set.
    platform_token: str | None = Field(None, description="the platform's token (mesh_access.platform_token)")

    # Where the catalog publishes the governance policies in force and every product applies them.
    control_topic: str = "mesh.control"
    # OpenLineage run events of every product (mesh_sdk.observe.lineage): by default to the catalog's
    # OpenLineage endpoint; any OpenLineage HTTP backend (Marquez, say) works, `off` sends none.
    lineage_url: str | None = None
    lineage_every_s: float = Field(30.0, description="at most one RUNNING event per product this often")

    # How long tables keep their snapshots (time travel), by age (mesh_sdk.storage.retention): every snapshot of
    # the recent window, at most `snapshots_recent_max` of them (each kept snapshot slows every commit),
    # then the newest of each minute and of each hour; tagged snapshots and the current one always.
    snapshots_recent_s: float = Field(7200.0, description="every snapshot this recent is kept")
    snapshots_recent_max: int = Field(200, description="but no more than this many recent ones")
    snapshots_minutely_s: float = Field(3600.0, description="then one per minute this far back (0: none)")
    snapshots_hourly_days: float = Field(7.0, description="then one per hour this many days back (0: none)")
    # Deciding what to expire is a pass over every snapshot, and expiring a commit: a writer does it
    # after this many new snapshots, or this long after it last did, not after each commit.
    snapshots_check_every_s: float = 60.0
    snapshots_check_slack: int = 50
    # Compaction of the small files micro-batches leave: at most this often, when at least
    # `compaction_min_files` files are smaller than `compaction_small_file_bytes` (0 s: never).
    compaction_every_s: float = 300.0
    compaction_min_files: int = 16
    compaction_small_file_bytes: int = 32 * 1024 * 1024
    compaction_max_input_bytes: int = Field(256 * 1024 * 1024, description="rewritten per compaction, at most")

    startup_timeout_s: float = 120.0
    jvm_heap: str = Field("384m", description="max heap of each JVM server")

    # Databases created in the embedded PostgreSQL, by purpose.
    legacy_db: str = "legacy"
    content_db: str = "content"
    crm_db: str = "crm"
    subscriptions_db: str = "subscriptions"  # the subscriptions service peeled off the monolith
    catalog_db: str = "iceberg_catalog"
    registry_db: str = "registry"

    @cached_property
    def pg_host(self) -> str:
        return self.postgres_host or self.host

    def postgres_dsn(self, database: str) -> str:
        return (
            f"postgresql://{self.postgres_user}:{self.postgres_password}@{self.pg_host}:{self.postgres_port}/{database}"
        )

    @cached_property
    def s3_url(self) -> str:
        return self.s3_endpoint or f"http://{self.host}:{self.s3_port}"

    @cached_property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"{self.host}:{self.kafka_port}"

    def kafka_client(self, user: str | None = None, password: str | None = None) -> dict[str, str]:
        """librdkafka settings to reach the broker: as the platform, or as `user` with `password` (a
        consumer's id and API key)."""
        config = {"bootstrap.servers": self.bootstrap_servers}
        if self.kafka_security_protocol.upper() == "PLAINTEXT":
            return config
        if user is None:  # the platform: SASL/PLAIN against the broker's own configuration
            return config | {
                "security.protocol": self.kafka_security_protocol,
                "sasl.mechanisms": "PLAIN",
                "sasl.username": self.kafka_user,
                "sasl.password": self.kafka_password,
            }
        return config | {
            "security.protocol": self.kafka_security_protocol,
            "sasl.mechanisms": self.kafka_sasl_mechanism,
            "sasl.username": user,
            "sasl.password": password or "",
        }

    def kafka_java_client(self) -> dict[str, str]:
        """The same, as a Java client's properties (Kafka Connect, Debezium)."""
        if self.kafka_security_protocol.upper() == "PLAINTEXT":
            return {"bootstrap.servers": self.bootstrap_servers}
        module = "org.apache.kafka.common.security.plain.PlainLoginModule"
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.kafka_security_protocol,
            "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": f'{module} required username="{self.kafka_user}" password="{self.kafka_password}";',
        }

    @cached_property
    def schema_registry_url(self) -> str:
        """The registry's Confluent-compatible API: clients never use anything else."""
        return self.registry_url or f"http://{self.host}:{self.registry_port}/apis/ccompat/v7"

    @cached_property
    def kafka_connect_url(self) -> str:
        return self.connect_url or f"http://{self.host}:{self.connect_port}"

    @cached_property
    def product_catalog_endpoint(self) -> str:
        """Where the data product catalog answers (what products register with)."""
        return (self.product_catalog_url or f"http://{self.host}:{self.product_catalog_port}").rstrip("/")

    @cached_property
    def lineage_endpoint(self) -> str | None:
        """The base URL OpenLineage events go to (the client adds `/api/v1/lineage`), or None: none sent."""
        if self.lineage_url is not None and self.lineage_url.strip().lower() in ("", "off"):
            return None
        return (self.lineage_url or self.product_catalog_endpoint).rstrip("/")

    @cached_property
    def iceberg_catalog_uri(self) -> str:
        return self.catalog_uri or (
            f"postgresql+psycopg://{self.postgres_user}:{self.postgres_password}"
            f"@{self.pg_host}:{self.postgres_port}/{self.catalog_db}"
        )

    def replaced(self, **changes: object) -> MeshSettings:
        """These settings with some fields changed. Not `model_copy`: it would carry over the derived
        values already computed (endpoints are cached properties) from the old fields."""
        return type(self)(**(self.model_dump() | changes))

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment variables that point another mesh process (a product, a CLI call) at these
        settings: `base` (default: this process's environment) without its MESH_* variables, plus
        every setting that differs from its default."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("MESH_")}
        for name, value in self.model_dump(exclude_defaults=True).items():
            env[f"MESH_{name.upper()}"] = str(value)
        return env

    @cached_property
    def warehouse(self) -> str:
        return f"s3://{self.warehouse_bucket}/"


def load_settings(**overrides: object) -> MeshSettings:
    """Settings from the environment; keyword overrides win (tests use them for private stacks)."""
    return MeshSettings(**overrides)  # type: ignore[arg-type]
