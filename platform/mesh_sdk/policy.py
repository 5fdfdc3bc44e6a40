"""Platform policies pushed to a product at run time through its control port."""

from __future__ import annotations

import threading
from collections.abc import Callable

from pydantic import BaseModel, Field


class PolicyUpdate(BaseModel):
    """A policy from the platform. Today: which columns every output port must mask."""

    mask: list[str] = Field(default_factory=list, description="columns to mask on every output port")
    reason: str = Field("", description="why, for the audit trail")


class PolicyState:
    def __init__(self, columns: set[str]) -> None:
        self._columns = columns
        self._lock = threading.Lock()
        self.masked: frozenset[str] = frozenset()
        self.history: list[PolicyUpdate] = []
        self._listeners: list[Callable[[frozenset[str]], None]] = []

    def on_change(self, listener: Callable[[frozenset[str]], None]) -> None:
        self._listeners.append(listener)

    def apply(self, update: PolicyUpdate) -> frozenset[str]:
        unknown = set(update.mask) - self._columns
        if unknown:
            raise ValueError(f"mask: unknown column(s) {sorted(unknown)}; columns: {sorted(self._columns)}")
        with self._lock:
            self.masked = frozenset(update.mask)
            self.history.append(update)
        for listener in self._listeners:
            listener(self.masked)
        return self.masked
