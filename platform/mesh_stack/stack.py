"""The supervisor: brings the components up in dependency order (in parallel where they are
independent), waits for each to answer, and takes everything down again."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from mesh_config import MeshSettings
from mesh_stack.component import Component, ComponentStatus
from mesh_stack.components.catalog import Catalog
from mesh_stack.components.connect import Connect
from mesh_stack.components.kafka import Kafka
from mesh_stack.components.postgres import Postgres
from mesh_stack.components.registry import Registry
from mesh_stack.components.seaweedfs import SeaweedFS
from mesh_stack.errors import ComponentFailed, PortTaken, StackError
from mesh_stack.ports import holder_of, is_free

COMPONENT_TYPES: tuple[type[Component], ...] = (Postgres, SeaweedFS, Kafka, Registry, Connect, Catalog)

# (component, phase, detail): phases are waiting, preparing, starting, provisioning, healthy,
# running (was already up), failed, stopping, stopped.
Listener = Callable[[str, str, str], None]


def _ignore(_name: str, _phase: str, _detail: str) -> None:
    pass


@dataclass
class StartReport:
    """What `up` did, per component, in seconds (benchmarks read this)."""

    prepare_s: dict[str, float] = field(default_factory=dict)
    start_s: dict[str, float] = field(default_factory=dict)
    already_running: list[str] = field(default_factory=list)
    total_s: float = 0.0


class Stack:
    def __init__(self, settings: MeshSettings, listener: Listener = _ignore) -> None:
        self.settings = settings
        self.components: dict[str, Component] = {t.name: t(settings) for t in COMPONENT_TYPES}
        self.listener = listener

    def __getitem__(self, name: str) -> Component:
        return self.components[name]

    # --- up -------------------------------------------------------------------------------------

    def up(self, parallel: bool = True) -> StartReport:
        """Start whatever is not running. Safe to call twice. On failure, stops everything.

        Independent components start side by side; ``parallel=False`` starts one at a time (the
        start-up benchmark's baseline)."""
        report = StartReport()
        for sub in ("logs", "run"):
            (self.settings.home / sub).mkdir(parents=True, exist_ok=True)
        started: list[Component] = []
        began = time.monotonic()
        futures: dict[str, Future[None]] = {}
        with ThreadPoolExecutor(max_workers=len(self.components) if parallel else 1) as pool:
            for name, component in self.components.items():
                deps = [futures[d] for d in component.depends_on]
                futures[name] = pool.submit(self._bring_up, component, deps, report, started)
            errors = [f.exception() for f in futures.values() if f.exception() is not None]
        # Report the root cause, not the components that were skipped because of it.
        causes = [e for e in errors if not isinstance(e, _DependencyFailed)] or errors
        failure = causes[0] if causes else None
        if failure is not None:
            self._stop_all(list(self.components.values()))
            raise failure
        report.total_s = time.monotonic() - began
        return report

    def _bring_up(
        self, component: Component, deps: list[Future[None]], report: StartReport, started: list[Component]
    ) -> None:
        name = component.name
        if deps:
            self.listener(name, "waiting", ", ".join(component.depends_on))
        for dep in deps:
            if dep.exception() is not None:
                self.listener(name, "stopped", "a dependency failed")
                raise _DependencyFailed(name)
        if component.is_running():
            self._await_health(component)
            component.provision()
            report.already_running.append(name)
            self.listener(name, "running", component.url())
            return
        try:
            self._check_ports(component)
            t0 = time.monotonic()
            self.listener(name, "preparing", "")
            component.prepare()
            t1 = time.monotonic()
            report.prepare_s[name] = t1 - t0
            self.listener(name, "starting", "")
            component.launch()
            started.append(component)
            self._await_health(component)
            self.listener(name, "provisioning", "")
            component.provision()
            report.start_s[name] = time.monotonic() - t1
            self.listener(name, "healthy", component.url())
        except Exception as exc:
            self.listener(name, "failed", str(exc).splitlines()[0])
            raise

    def _check_ports(self, component: Component) -> None:
        for port in component.ports():
            if not is_free(self.settings.host, port):
                raise PortTaken(component.name, port, holder_of(port))

    def _await_health(self, component: Component) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout_s
        delay = 0.1
        while True:
            if component.healthy():
                return
            if component.process.exited_early():
                raise ComponentFailed(
                    component.name, "its process exited", component.log_path, component.process.log_tail()
                )
            if time.monotonic() > deadline:
                raise ComponentFailed(
                    component.name,
                    f"not healthy after {self.settings.startup_timeout_s:.0f} s",
                    component.log_path,
                    component.process.log_tail(),
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    # --- down, status, reset ------------------------------------------------------------------------

    def down(self) -> list[str]:
        """Stop everything, dependants first. Returns the components that were running."""
        return self._stop_all(list(self.components.values()))

    def _stop_all(self, components: list[Component]) -> list[str]:
        stopped: list[str] = []
        for component in reversed(components):
            if component.is_running() or component.process.exited_early():
                was_running = component.is_running()
                self.listener(component.name, "stopping", "")
                component.stop()
                self.listener(component.name, "stopped", "")
                if was_running:
                    stopped.append(component.name)
        return stopped

    def status(self) -> list[ComponentStatus]:
        return [c.status() for c in self.components.values()]

    def reset(self) -> None:
        """Stop everything and delete all state (the download cache is kept)."""
        self.down()
        shutil.rmtree(self.settings.home, ignore_errors=True)


class _DependencyFailed(StackError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} was not started because a component it needs failed")
