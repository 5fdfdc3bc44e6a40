"""Provisioning that does not care who runs the servers: the embedded stack, docker-compose or remote
services all get the same databases, buckets, registry rules and catalog namespaces."""

from __future__ import annotations

from mesh_config import MeshSettings
from mesh_stack.stack import COMPONENT_TYPES


def provision_services(settings: MeshSettings) -> list[str]:
    """Run every component's idempotent provisioning against already-running services."""
    done = []
    for component_type in COMPONENT_TYPES:
        component_type(settings).provision()
        done.append(component_type.name)
    return done
