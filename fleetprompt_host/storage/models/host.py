"""Host-level tables: the tenant registry, known packages and the host audit log.

Kept deliberately small: everything a tenant owns lives in the tenant's own schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..base import HOST_SCHEMA, BigIntPK, HostBase, JSONType, UTCDateTime, utcnow

TENANT_STATUSES = ("active", "deleting")


class TenantRow(HostBase):
    """One tenant: its slug, where its data lives and the schema revision it is at."""

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(f"status IN {TENANT_STATUSES!r}", name="status"),
        {"schema": HOST_SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(41), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    schema_name: Mapped[str] = mapped_column(String(63))
    #: PostgreSQL login role the tenant's sessions connect as (None on SQLite).
    db_role: Mapped[str | None] = mapped_column(String(63), default=None)
    #: Generated password of ``db_role``; readable only by the host role.
    db_password: Mapped[str | None] = mapped_column(String(128), default=None)
    schema_revision: Mapped[str | None] = mapped_column(String(64), default=None)
    migrated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class KnownPackageRow(HostBase):
    """A package version this host has seen installed somewhere (for upgrades and audits)."""

    __tablename__ = "known_packages"
    __table_args__ = (UniqueConstraint("name", "version"), {"schema": HOST_SCHEMA})

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    manifest_checksum: Mapped[str | None] = mapped_column(String(64), default=None)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HostAuditRow(HostBase):
    """A host-level action worth keeping: tenant created/deleted, signals pruned."""

    __tablename__ = "host_audit"
    __table_args__ = (Index(None, "tenant_slug", "at"), {"schema": HOST_SCHEMA})

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    tenant_slug: Mapped[str | None] = mapped_column(String(41), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
