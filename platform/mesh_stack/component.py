"""What every part of the embedded stack looks like to the supervisor."""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mesh_config import MeshSettings
from mesh_stack.process import ManagedProcess


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    url: str
    health: str  # healthy | unhealthy | stopped | ready (a task that has no process)
    pid: int | None
    rss_bytes: int
    log: str


class Component(ABC):
    """A server of the stack. Subclasses say how to prepare, launch, probe and provision it."""

    name: ClassVar[str]
    depends_on: ClassVar[tuple[str, ...]] = ()
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    stop_timeout_s: ClassVar[float] = 30.0

    def __init__(self, settings: MeshSettings) -> None:
        self.settings = settings
        self.process = ManagedProcess(self.name, settings.home / "run", self.log_path)

    @property
    def state_dir(self) -> Path:
        return self.settings.home / self.name

    @property
    def log_path(self) -> Path:
        return self.settings.home / "logs" / f"{self.name}.log"

    @abstractmethod
    def ports(self) -> list[int]:
        """Every port the server binds (checked free before start)."""

    @abstractmethod
    def url(self) -> str:
        """Where users and clients reach it."""

    def prepare(self) -> None:
        """One-time, idempotent set-up before launch: resolve artifacts, initialise storage."""
        return None

    @abstractmethod
    def launch(self) -> None:
        """Start the server process (detached)."""

    @abstractmethod
    def healthy(self) -> bool:
        """A real request answered: not just an open port."""

    def provision(self) -> None:
        """Idempotent set-up once healthy: databases, buckets, global rules."""
        return None

    def is_running(self) -> bool:
        return self.process.is_running()

    def stop(self) -> None:
        self.process.stop(self.stop_signal, self.stop_timeout_s)

    def status(self) -> ComponentStatus:
        running = self.is_running()
        health = "stopped"
        if running:
            health = "healthy" if self.healthy() else "unhealthy"
        return ComponentStatus(
            name=self.name,
            url=self.url(),
            health=health,
            pid=self.process.pid,
            rss_bytes=self.process.rss_bytes(),
            log=str(self.log_path),
        )


class Task(Component):
    """A part of the stack with no process of its own (it initialises state in other servers)."""

    def ports(self) -> list[int]:
        return []

    def launch(self) -> None:
        self.provision()

    def is_running(self) -> bool:
        return False

    def stop(self) -> None:
        pass

    def status(self) -> ComponentStatus:
        return ComponentStatus(self.name, self.url(), "ready" if self.healthy() else "not ready", None, 0, "")
