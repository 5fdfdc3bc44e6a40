"""The Iceberg catalog: pyiceberg's SqlCatalog on PostgreSQL, warehouse on S3, a namespace per domain."""

from __future__ import annotations

import contextlib

from pyiceberg.exceptions import NamespaceAlreadyExistsError

from mesh_adapters.lakehouse import iceberg_catalog
from mesh_config.settings import DOMAINS
from mesh_stack.component import Task


class Catalog(Task):
    name = "catalog"
    depends_on = ("postgres", "seaweedfs")

    def url(self) -> str:
        s = self.settings
        return f"{s.iceberg_catalog_uri.split('@')[-1]} -> {s.warehouse}"

    def healthy(self) -> bool:
        try:
            existing = {ns[0] for ns in iceberg_catalog(self.settings).list_namespaces()}
            return set(DOMAINS) <= existing
        except Exception:
            return False

    def provision(self) -> None:
        catalog = iceberg_catalog(self.settings)  # creates the catalog's own tables on first use
        for domain in DOMAINS:
            with contextlib.suppress(NamespaceAlreadyExistsError):
                catalog.create_namespace(domain, {"owner": f"{domain} domain team"})
