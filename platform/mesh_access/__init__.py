"""Access control for every port of the mesh: consumer identities with API keys (stored hashed, rotated
and revoked), access requests approved by the owning team, grants per product and purpose with or
without PII, and the one decision every port applies (`AccessList.authorize`)."""

from mesh_access.book import AccessBook, AccessError, AccessRequest, ApiKey, Consumer, Status
from mesh_access.decision import Access, AccessList, Denied, PublishedGrant, PublishedKey
from mesh_access.service import AccessService, Readable

__all__ = [
    "Access",
    "AccessBook",
    "AccessError",
    "AccessList",
    "AccessRequest",
    "AccessService",
    "ApiKey",
    "Consumer",
    "Denied",
    "PublishedGrant",
    "PublishedKey",
    "Readable",
    "Status",
]
