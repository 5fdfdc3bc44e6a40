"""Apache Kafka 4.x: one node in KRaft mode (broker and controller), the event backbone.

Every connection authenticates: consumers with SASL/SCRAM-SHA-256 (their credentials are added at run
time by the catalog), the platform's principal, a super user, with SASL/PLAIN against this file's
configuration, on the broker's listener and between broker and controller. The
broker authorizes every request with ACLs (StandardAuthorizer, deny unless allowed), and makes each
connection authenticate again every minute, so a revoked credential is out within a minute.

A second listener, secured the same way, serves the clients the network faults route through Toxiproxy
(`mesh chaos`): it advertises the proxy's address, so that such a client never bypasses the proxy."""

from __future__ import annotations

import base64
import subprocess
import uuid

from confluent_kafka.admin import AdminClient

from mesh_stack.errors import ComponentFailed
from mesh_stack.jvm_component import JvmComponent
from mesh_stack.toxiproxy import TOXIPROXY_HOST


class Kafka(JvmComponent):
    name = "kafka"
    artifacts = ("kafka",)

    def ports(self) -> list[int]:
        s = self.settings
        return [s.kafka_port, s.kafka_controller_port, s.kafka_proxied_listener_port]

    def url(self) -> str:
        return f"kafka://{self.settings.bootstrap_servers}"

    @property
    def secured(self) -> bool:
        return self.settings.kafka_security_protocol.upper() != "PLAINTEXT"

    def _security(self) -> dict[str, str]:
        s = self.settings
        user, password = s.kafka_user, s.kafka_password
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
        platform = f'{plain} required username="{user}" password="{password}" user_{user}="{password}";'
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        return {
            "listener.security.protocol.map": "BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT,PROXIED:SASL_PLAINTEXT",
            # Consumers: SCRAM, credentials in the metadata log. The platform: PLAIN, from this file, so
            # it is in at once after a restart (SCRAM waits for the credentials to be replayed).
            "sasl.enabled.mechanisms": f"{s.kafka_sasl_mechanism},PLAIN",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": platform,
            "listener.name.broker.plain.sasl.jaas.config": platform,
            f"listener.name.broker.{s.kafka_sasl_mechanism.lower()}.sasl.jaas.config": scram,
            "listener.name.proxied.plain.sasl.jaas.config": platform,
            f"listener.name.proxied.{s.kafka_sasl_mechanism.lower()}.sasl.jaas.config": scram,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{user}",
            "allow.everyone.if.no.acl.found": "false",
            "connections.max.reauth.ms": "60000",
        }

    def _properties(self) -> str:
        s = self.settings
        broker = f"{s.host}:{s.kafka_port}"
        controller = f"{s.host}:{s.kafka_controller_port}"
        # The listener behind Toxiproxy: a client bootstrapped on the proxy is told the proxy's address
        # as the broker's, so every request it makes goes through the proxy (and its toxics). Unused,
        # and costing nothing, unless a network fault routes a product there.
        proxied = f"{s.host}:{s.kafka_proxied_listener_port}"
        proxy = f"{TOXIPROXY_HOST}:{s.toxiproxy_kafka_port}"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{controller}",
            "listeners": f"BROKER://{broker},CONTROLLER://{controller},PROXIED://{proxied}",
            "advertised.listeners": f"BROKER://{broker},PROXIED://{proxy}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "BROKER",
            "listener.security.protocol.map": "BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT",
            "log.dirs": str(self.state_dir / "data"),
            "num.partitions": "3",
            # One node: every internal topic has a single replica.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Topics are created on purpose, by the products and the platform, never by a typo.
            "auto.create.topics.enable": "false",
            "log.retention.hours": "-1",
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        if self.secured:
            props |= self._security()
        return "".join(f"{k}={v}\n" for k, v in props.items())

    @property
    def config_path(self) -> str:
        return str(self.state_dir / "server.properties")

    def _classpath(self) -> str:
        return str(self.artifact_dir("kafka") / "lib" / "*")

    def prepare(self) -> None:
        self.resolve()
        (self.state_dir / "data").mkdir(parents=True, exist_ok=True)
        with open(self.config_path, "w") as f:
            f.write(self._properties())
        if (self.state_dir / "data" / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        with open(self.log_path, "ab") as log:
            result = subprocess.run(
                [
                    self.java(),
                    "-cp",
                    self._classpath(),
                    f"-Dlog4j2.configurationFile={self.log4j2_config()}",
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={cluster_id}",  # one token: an id may start with "-"
                    "-c",
                    self.config_path,
                    "--ignore-formatted",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.java_env(),
                timeout=120,
            )
        if result.returncode != 0:
            raise ComponentFailed(self.name, "formatting its storage failed", self.log_path, self.process.log_tail())

    def launch(self) -> None:
        argv = [
            self.java(),
            *self.jvm_options(),
            f"-Dlog4j2.configurationFile={self.log4j2_config()}",
            f"-Dkafka.logs.dir={self.state_dir / 'logs'}",
            "-cp",
            self._classpath(),
            "kafka.Kafka",
            self.config_path,
        ]
        self.process.start(argv, env=self.java_env(), cwd=self.state_dir)

    def healthy(self) -> bool:
        try:
            admin = AdminClient({**self.settings.kafka_client(), "log_level": 0})
            metadata = admin.list_topics(timeout=2)
            return len(metadata.brokers) > 0
        except Exception:
            return False
