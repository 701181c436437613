"""Tenant records: JSON documents in package-owned collections."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..base import TENANT_SCHEMA, BigIntPK, JSONType, TenantBase, UTCDateTime, utcnow


class RecordRow(TenantBase):
    """A record ``(package, collection, key)`` with its data and provenance.

    ``provisioned`` marks records an installation created (removed with the package);
    ``created_by_directive`` / ``created_by_actor`` say which directive and actor wrote it.
    ``revision`` increases on every update, for optimistic concurrency.
    """

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("package", "collection", "key"),
        Index(None, "collection", "key"),
        Index(None, "updated_at"),
        {"schema": TENANT_SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    package: Mapped[str] = mapped_column(String(64))
    collection: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    provisioned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_directive: Mapped[str | None] = mapped_column(String(36), default=None)
    created_by_actor: Mapped[str | None] = mapped_column(String(120), default=None)
    updated_by_directive: Mapped[str | None] = mapped_column(String(36), default=None)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
