"""Servers that run on the JVM: a pinned classpath from the download cache and a bounded heap."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from mesh_stack.component import Component
from mesh_stack.java import JvmArtifact, find_java

_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRefs = stdout
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
"""


class JvmComponent(Component):
    artifacts: ClassVar[tuple[str, ...]]

    def resolve(self) -> dict[str, Path]:
        """The component's artifact directories, resolved once into the cache."""
        log = self.settings.home / "logs" / "maven.log"
        cache, bundle = self.settings.cache_dir, self.settings.bundle
        return {name: JvmArtifact(name).resolve(cache, log, bundle) for name in self.artifacts}

    def artifact_dir(self, name: str) -> Path:
        return JvmArtifact(name).directory(self.settings.cache_dir)

    def java(self) -> str:
        return str(find_java(self.settings.java_home))

    def jvm_options(self) -> list[str]:
        return [
            f"-Xmx{self.settings.jvm_heap}",
            "-Xms64m",
            "-XX:+UseSerialGC",  # two cores, small heaps: the least overhead and memory
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            "-Djava.net.preferIPv4Stack=true",
        ]

    def log4j2_config(self) -> Path:
        path = self.state_dir / "log4j2.properties"
        path.write_text(_LOG4J2)
        return path

    def java_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("JAVA_TOOL_OPTIONS", None)
        env.pop("CLASSPATH", None)
        return env
