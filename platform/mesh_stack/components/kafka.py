"""Apache Kafka 4.x: one node in KRaft mode (broker and controller), the event backbone.

Every connection authenticates: clients with SASL/SCRAM-SHA-256 on the broker's listener (the platform's
principal, a super user, was written into the storage when it was formatted; consumers' credentials
are added at run time by the catalog), the broker with SASL/PLAIN on the controller's listener. The
broker authorizes every request with ACLs (StandardAuthorizer, deny unless allowed), and makes each
connection authenticate again every minute, so a revoked credential is out within a minute."""

from __future__ import annotations

import base64
import subprocess
import uuid

from confluent_kafka.admin import AdminClient

from mesh_stack.errors import ComponentFailed
from mesh_stack.jvm_component import JvmComponent


class Kafka(JvmComponent):
    name = "kafka"
    artifacts = ("kafka",)

    def ports(self) -> list[int]:
        return [self.settings.kafka_port, self.settings.kafka_controller_port]

    def url(self) -> str:
        return f"kafka://{self.settings.bootstrap_servers}"

    @property
    def secured(self) -> bool:
        return self.settings.kafka_security_protocol.upper() != "PLAINTEXT"

    def _security(self) -> dict[str, str]:
        s = self.settings
        user, password = s.kafka_user, s.kafka_password
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
        return {
            "listener.security.protocol.map": "BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": s.kafka_sasl_mechanism,
            "sasl.mechanism.inter.broker.protocol": s.kafka_sasl_mechanism,
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": (
                f'{plain} required username="{user}" password="{password}" user_{user}="{password}";'
            ),
            f"listener.name.broker.{s.kafka_sasl_mechanism.lower()}.sasl.jaas.config": (
                f'{scram} required username="{user}" password="{password}";'
            ),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{user}",
            "allow.everyone.if.no.acl.found": "false",
            "connections.max.reauth.ms": "60000",
        }

    def _properties(self) -> str:
        s = self.settings
        broker = f"{s.host}:{s.kafka_port}"
        controller = f"{s.host}:{s.kafka_controller_port}"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{controller}",
            "listeners": f"BROKER://{broker},CONTROLLER://{controller}",
            "advertised.listeners": f"BROKER://{broker}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "BROKER",
            "listener.security.protocol.map": "BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
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
        marker = self.state_dir / "data" / "mesh-scram-bootstrapped"
        if (self.state_dir / "data" / "meta.properties").exists():
            if self.secured and not marker.exists():
                raise ComponentFailed(
                    self.name,
                    "its storage was formatted before the broker authenticated clients, so it holds no "
                    "credential for the platform: `mesh reset` starts afresh (or set MESH_KAFKA_SECURITY_PROTOCOL"
                    "=PLAINTEXT to keep it unauthenticated)",
                    self.log_path,
                    "",
                )
            return
        s = self.settings
        scram = [f"--add-scram={s.kafka_sasl_mechanism}=[name={s.kafka_user},password={s.kafka_password}]"]
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
                    *(scram if self.secured else []),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.java_env(),
                timeout=120,
            )
        if result.returncode != 0:
            raise ComponentFailed(self.name, "formatting its storage failed", self.log_path, self.process.log_tail())
        if self.secured:
            marker.write_text(s.kafka_user)

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
