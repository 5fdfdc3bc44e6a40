"""Platform policies pushed to a product at run time through its control port.

Two layers, whose union every output port masks:
- the mesh's governance policies, published by the catalog on the control topic (`mesh.control`) and
  applied by every product as they arrive (`apply_platform`): today, which classifications of column
  are masked for every consumer;
- an operator's mask, put on the product's authenticated control endpoint (`PUT /control/policy`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field


class PolicyUpdate(BaseModel):
    """An operator's policy on the control endpoint: which columns every output port must mask."""

    mask: list[str] = Field(default_factory=list, description="columns to mask on every output port")
    reason: str = Field("", description="why, for the audit trail")


@dataclass(frozen=True)
class PlatformPolicies:
    """The governance policies in force, as the catalog published them, and what they ask of this product."""

    version: int
    digest: str
    mask_classifications: tuple[str, ...]
    masked: frozenset[str]  # this product's columns of those classifications
    applied_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "digest": self.digest,
            "mask_classifications": list(self.mask_classifications),
            "masked": sorted(self.masked),
            "applied_at": self.applied_at.isoformat(),
        }


class PolicyState:
    def __init__(self, columns: set[str], classifications: Mapping[str, str | None] | None = None) -> None:
        self._columns = columns
        self._classes = {c: (k or "").lower() for c, k in (classifications or {}).items()}
        self._lock = threading.Lock()
        self.manual: frozenset[str] = frozenset()
        self.platform: PlatformPolicies | None = None
        self.history: list[PolicyUpdate] = []
        self._listeners: list[Callable[[frozenset[str]], None]] = []

    def columns_of(self, classification: str) -> frozenset[str]:
        return frozenset(c for c, k in self._classes.items() if k == classification.lower())

    @property
    def masked(self) -> frozenset[str]:
        return self.manual | (self.platform.masked if self.platform else frozenset())

    def on_change(self, listener: Callable[[frozenset[str]], None]) -> None:
        self._listeners.append(listener)

    def apply(self, update: PolicyUpdate) -> frozenset[str]:
        unknown = set(update.mask) - self._columns
        if unknown:
            raise ValueError(f"mask: unknown column(s) {sorted(unknown)}; columns: {sorted(self._columns)}")
        with self._lock:
            self.manual = frozenset(update.mask)
            self.history.append(update)
        return self._changed()

    def apply_platform(self, version: int, digest: str, mask_classifications: list[str]) -> frozenset[str]:
        """The policies the catalog published; returns what every port now masks."""
        wanted = {c.lower() for c in mask_classifications}
        columns = frozenset(c for c in self._columns if self._classes.get(c) in wanted)
        with self._lock:
            self.platform = PlatformPolicies(version, digest, tuple(sorted(wanted)), columns)
        return self._changed()

    def describe(self) -> dict[str, Any]:
        """What the discovery port says of the policies in force, for governance to check."""
        return {
            "masked": sorted(self.masked),
            "platform": self.platform.as_dict() if self.platform else None,
            "operator_mask": sorted(self.manual),
        }

    def _changed(self) -> frozenset[str]:
        masked = self.masked
        for listener in self._listeners:
            listener(masked)
        return masked
