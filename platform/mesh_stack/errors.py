"""Errors that tell the user what is wrong and how to fix it."""

from __future__ import annotations

from pathlib import Path


class StackError(RuntimeError):
    """Base of every error the stack reports to a user."""


class MissingDependency(StackError):
    """Something the stack needs is not installed; the message says how to get it."""

    def __init__(self, what: str, how: str) -> None:
        super().__init__(f"{what} is missing. {how}")
        self.what = what
        self.how = how


class PortTaken(StackError):
    def __init__(self, component: str, port: int, holder: str) -> None:
        super().__init__(
            f"cannot start {component}: port {port} on 127.0.0.1 is taken by {holder}. "
            f"Stop that process or choose another port (see `mesh status --json` for the MESH_* variables)."
        )
        self.component = component
        self.port = port
        self.holder = holder


class ComponentFailed(StackError):
    def __init__(self, component: str, reason: str, log: Path | None, log_tail: str = "") -> None:
        where = f" Its log: {log}" if log else ""
        tail = f"\n--- last lines of {log} ---\n{log_tail}" if log_tail else ""
        super().__init__(f"{component} failed to start: {reason}.{where}{tail}")
        self.component = component
        self.log = log
