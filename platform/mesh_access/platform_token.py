"""The platform's own token: what creates consumer identities (and rotates or revokes anyone's keys).
`MESH_PLATFORM_TOKEN` when set; otherwise one generated on first use and kept, readable by its owner
only, under the mesh's home, where the local CLI finds it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from mesh_config import MeshSettings


def token_path(settings: MeshSettings) -> Path:
    return settings.home / "access" / "platform-token"


def platform_token(settings: MeshSettings, *, create: bool = True) -> str | None:
    if settings.platform_token:
        return settings.platform_token
    path = token_path(settings)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        if not create:
            return None
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(token)
    return token
