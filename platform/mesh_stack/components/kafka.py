"""Apache Kafka 4.x: one node in KRaft mode (broker and controller), the event backbone."""

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

    def _properties(self) -> str:
        s = self.settings
        broker = f"{s.host}:{s.kafka_port}"
        controller = f"{s.host}:{s.kafka_controller_port}"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{controller}",
            "listeners": f"PLAINTEXT://{broker},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{broker}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
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
            admin = AdminClient({"bootstrap.servers": self.settings.bootstrap_servers, "log_level": 0})
            metadata = admin.list_topics(timeout=2)
            return len(metadata.brokers) > 0
        except Exception:
            return False
