"""FleetPrompt storage: the host registry and isolated per-tenant data.

Start with :class:`Database`; tenant data is reached only through
:meth:`Database.tenant_session`. Models are in :mod:`.models`; :func:`require_role` is the
one role check every layer uses.
"""

from __future__ import annotations

from .base import HOST_SCHEMA, TENANT_SCHEMA, HostBase, TenantBase, new_id, utcnow
from .database import Database
from .registry import TenantInfo
from .roles import add_member, list_members, member_role, remove_member, require_role
from .slugs import SLUG_PATTERN, schema_name, validate_slug

__all__ = [
    "HOST_SCHEMA",
    "SLUG_PATTERN",
    "TENANT_SCHEMA",
    "Database",
    "HostBase",
    "TenantBase",
    "TenantInfo",
    "add_member",
    "list_members",
    "member_role",
    "new_id",
    "remove_member",
    "require_role",
    "schema_name",
    "utcnow",
    "validate_slug",
]
