"""What a new operational database is seeded with before its capture starts, in one place for every
command that starts capture (`mesh cdc start`, `mesh demo`, the stack's assembly)."""

from __future__ import annotations

from collections.abc import Callable

from mesh_config import MeshSettings

Installer = Callable[[str], object]  # given the database's DSN; idempotent


def installers(settings: MeshSettings, *, customers: int, titles: int) -> dict[str, Installer]:
    """By source name. The CRM is typed from the monolith's customers, so it is installed after them."""
    from mesh_sources.content import install_content
    from mesh_sources.crm import install_crm
    from mesh_sources.legacy import install_legacy

    return {
        "legacy": lambda dsn: install_legacy(dsn, customers=customers),
        "content": lambda dsn: install_content(dsn, titles=titles),
        "crm": lambda dsn: install_crm(dsn, settings.postgres_dsn(settings.legacy_db)),
    }
