"""Private stacks beside the user's own: for tests, benchmarks and labs that must not touch it."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from mesh_config import MeshSettings, load_settings


def _state_root() -> Path:
    """Where private stacks keep state: beside the default state directory, unless PostgreSQL's
    unprivileged user (used when running as root) could not traverse its parents."""
    preferred = load_settings().home
    reachable = all(p.stat().st_mode & stat.S_IXOTH for p in preferred.parents if p.exists())
    if os.geteuid() != 0 or reachable:
        return preferred
    fallback = Path(tempfile.gettempdir()) / "mesh-private-stacks"
    fallback.mkdir(mode=0o755, exist_ok=True)
    return fallback


def isolated_settings(name: str, base_port: int) -> MeshSettings:
    """Settings for a stack of its own: state under <state root>/<name>, ports from base_port (the
    servers' seventeen, Toxiproxy's among them, then the products' REST ports from base_port + 20 and
    SQL ports from + 40). The data product catalog's port is among them, so that products run on a
    private stack register with its catalog (if one runs), never with the user's."""
    return load_settings(
        home=_state_root() / name,
        postgres_port=base_port,
        s3_port=base_port + 1,
        s3_master_port=base_port + 2,
        s3_volume_port=base_port + 3,
        s3_filer_port=base_port + 4,
        kafka_port=base_port + 5,
        kafka_controller_port=base_port + 6,
        registry_port=base_port + 7,
        registry_management_port=base_port + 8,
        connect_port=base_port + 9,
        s3_admin_port=base_port + 10,
        product_catalog_port=base_port + 11,
        s3_access_log_port=base_port + 12,
        kafka_proxied_listener_port=base_port + 13,
        toxiproxy_port=base_port + 14,
        toxiproxy_kafka_port=base_port + 15,
        toxiproxy_s3_port=base_port + 16,
        products_http_port=base_port + 20,
        products_sql_port=base_port + 40,
    )
