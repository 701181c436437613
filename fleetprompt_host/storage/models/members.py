"""Tenant members: which actor holds which role in the tenant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from ..base import TENANT_SCHEMA, BigIntPK, TenantBase, UTCDateTime, utcnow

ROLES = ("owner", "admin", "member")


class MemberRow(TenantBase):
    """An actor (``user:alice``) and its role in this tenant."""

    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES!r}", name="role"),
        {"schema": TENANT_SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    added_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
