"""What a derivation keeps between refreshes (`Context.state`: open sessions, the model in service),
kept by the platform: saved after each refresh, before the commit that completes it, under a name the
refresh's progress record holds; loaded into a new Derivation when a process starts, so the next
refresh continues exactly where the last complete one stopped. A product folder holds no code to
rebuild its state.

The state is pickled: it holds the product's own objects, written and read by the product alone, in
its own place in the artifact store (`state/<domain>/<name>/refresh-<n>/state.pickle`). The newest few
are kept: a crash after a save and before the commit leaves the previous one named by the progress."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from typing import Any

from mesh_sdk.spec.logic import ArtifactStore

log = logging.getLogger(__name__)

NAME = "state.pickle"
KEEP = 3


class StateUnreadable(RuntimeError):
    """A saved state that cannot be loaded (gone, or written by code whose classes have changed)."""


class DerivationStates:
    def __init__(self, files: ArtifactStore, keep: int = KEEP) -> None:
        self.files = files
        self.keep = keep
        # The saved versions, oldest first: listed from the store once, then kept here, so a refresh
        # costs one write and at most one delete rather than a listing too.
        self._versions: list[str] | None = None

    def save(self, refresh: int, state: Mapping[str, Any]) -> str | None:
        """Save the state after `refresh`; returns its name for the progress record (None: nothing kept)."""
        if not state:
            return None
        version = f"refresh-{refresh:012d}"
        self.files.put(version, NAME, pickle.dumps(dict(state), protocol=pickle.HIGHEST_PROTOCOL))
        if self._versions is not None and version not in self._versions:
            self._versions.append(version)
        return version

    def load(self, version: str) -> dict[str, Any]:
        try:
            state = pickle.loads(self.files.get(version, NAME))
        except Exception as exc:
            raise StateUnreadable(f"the derivation's state {version} cannot be read: {exc}") from exc
        if not isinstance(state, dict):
            raise StateUnreadable(f"the derivation's state {version} is not a mapping")
        return state

    def forget_older(self, than: str | None) -> None:
        """Delete saved states older than the newest `keep`, never `than` (the one the progress names)."""
        if self._versions is None:
            self._versions = sorted(self.files.versions())
        versions = self._versions
        for version in versions[: max(0, len(versions) - self.keep)]:
            if version != than:
                try:
                    self.files.delete(version)
                except Exception as exc:  # a state left behind costs space, not correctness
                    log.debug("an old derivation state was not deleted: %s", exc)
                    continue
                versions.remove(version)
