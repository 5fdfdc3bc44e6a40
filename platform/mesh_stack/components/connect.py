"""A Kafka Connect worker with the Debezium PostgreSQL connector plugin (connectors come with CDC).

It runs in distributed mode with a single worker: connector configs and offsets then live in Kafka
topics, so connectors created over REST survive a restart (standalone mode would forget them)."""

from __future__ import annotations

import httpx

from mesh_stack.jvm_component import JvmComponent

DEBEZIUM_POSTGRES = "io.debezium.connector.postgresql.PostgresConnector"
AVRO_CONVERTER = "io.apicurio.registry.utils.converter.AvroConverter"


class Connect(JvmComponent):
    name = "connect"
    artifacts = ("connect", "debezium-postgres", "avro-converter")
    depends_on = ("kafka",)

    def ports(self) -> list[int]:
        return [self.settings.connect_port]

    def url(self) -> str:
        return self.settings.kafka_connect_url

    def _properties(self) -> str:
        s = self.settings
        # The worker, and the producers, consumers and admin clients it makes for connectors, all
        # authenticate as the platform.
        client = s.kafka_java_client()
        security = {f"{prefix}{k}": v for prefix in ("", "producer.", "consumer.", "admin.") for k, v in client.items()}
        props = {
            **security,
            "group.id": "mesh-connect",
            "config.storage.topic": "mesh.connect.configs",
            "offset.storage.topic": "mesh.connect.offsets",
            "status.storage.topic": "mesh.connect.status",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "listeners": f"http://{s.host}:{s.connect_port}",
            "rest.advertised.host.name": s.host,
            "rest.advertised.port": str(s.connect_port),
            "plugin.path": ",".join(
                str(self.artifact_dir(name) / "plugins") for name in ("debezium-postgres", "avro-converter")
            ),
            "plugin.discovery": "hybrid_warn",
            "offset.flush.interval.ms": "5000",
            # A single worker: a broker outage (lab 07 keeps it away past the product's freshness SLO of a
            # minute; an upgrade) must not make it revoke its connectors. Connect revokes them once the
            # coordinator has been unreachable for a heartbeat interval, and a task stopped mid-stream
            # can leave its replication slot held by a connection nothing closes, so the restarted task
            # cannot stream again. A dead worker is still replaced within the rebalance timeout (60 s).
            "heartbeat.interval.ms": "150000",
            "session.timeout.ms": "450000",
            "topic.creation.enable": "true",
        }
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def prepare(self) -> None:
        self.resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "worker.properties").write_text(self._properties())

    def launch(self) -> None:
        argv = [
            self.java(),
            *self.jvm_options(),
            f"-Dlog4j2.configurationFile={self.log4j2_config()}",
            "-cp",
            str(self.artifact_dir("connect") / "lib" / "*"),
            "org.apache.kafka.connect.cli.ConnectDistributed",
            str(self.state_dir / "worker.properties"),
        ]
        self.process.start(argv, env=self.java_env(), cwd=self.state_dir)

    def plugins(self) -> list[str]:
        # Converters are listed too, not only connectors.
        response = httpx.get(f"{self.url()}/connector-plugins", params={"connectorsOnly": "false"}, timeout=2)
        response.raise_for_status()
        return [p["class"] for p in response.json()]

    def healthy(self) -> bool:
        try:
            return {DEBEZIUM_POSTGRES, AVRO_CONVERTER} <= set(self.plugins())
        except (httpx.HTTPError, ValueError):
            return False
