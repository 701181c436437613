"""Package installations in a tenant: version, status, config and what they provisioned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..base import TENANT_SCHEMA, JSONType, TenantBase, UTCDateTime, new_id, utcnow

INSTALLATION_STATUSES = (
    "requested",
    "installing",
    "installed",
    "failed",
    "disabled",
    "uninstalled",
)


class InstallationRow(TenantBase):
    """One package installed (or being installed) in this tenant.

    ``config`` never holds secret values: secret fields are stored encrypted elsewhere and
    referenced from ``secret_refs`` (field name -> reference). ``manifest`` is the manifest
    of the installed version (what the tenant's tools and handlers follow); ``generation``
    counts fresh starts (reinstall after uninstall or failure).
    """

    __tablename__ = "installations"
    __table_args__ = (
        CheckConstraint(f"status IN {INSTALLATION_STATUSES!r}", name="status"),
        {"schema": TENANT_SCHEMA},
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    package: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    secret_refs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    config_checksum: Mapped[str | None] = mapped_column(String(64), default=None)
    requested_by: Mapped[str] = mapped_column(String(120))
    directive_id: Mapped[str | None] = mapped_column(String(36), default=None)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
