"""What a new operational database is seeded with before its capture starts, in one place for every
command that starts capture (`mesh cdc start`, `mesh demo`, the stack's assembly)."""

from __future__ import annotations

from collections.abc import Callable

from mesh_config import MeshSettings

Installer = Callable[[str], object]  # given the database's DSN; idempotent


def installers(settings: MeshSettings, *, customers: int, titles: int) -> dict[str, Installer]:
    """By source name. The CRM is typed from the monolith's customers and the service copies its plans, so
    both are installed after it."""
    from mesh_sources.content import install_content
    from mesh_sources.crm import install_crm
    from mesh_sources.legacy import install_legacy
    from mesh_sources.subscriptions_service import install_service

    return {
        "legacy": lambda dsn: install_legacy(dsn, customers=customers),
        "content": lambda dsn: install_content(dsn, titles=titles),
        "crm": lambda dsn: install_crm(dsn, settings.postgres_dsn(settings.legacy_db)),
        "subscriptions": lambda dsn: install_service(dsn, settings.postgres_dsn(settings.legacy_db)),
    }
