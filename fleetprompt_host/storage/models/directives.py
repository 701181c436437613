"""Directives: controlled intent with an idempotency key, leases and retries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..base import TENANT_SCHEMA, JSONType, TenantBase, UTCDateTime, new_id, utcnow

DIRECTIVE_STATUSES = ("requested", "running", "succeeded", "failed", "canceled")


class DirectiveRow(TenantBase):
    """One directive. ``params_hash`` lets a re-request with the same idempotency key but
    different params be told apart from a harmless retry."""

    __tablename__ = "directives"
    __table_args__ = (
        CheckConstraint(f"status IN {DIRECTIVE_STATUSES!r}", name="status"),
        Index(None, "status", "run_after"),
        Index(None, "type", "requested_at"),
        Index(None, "correlation_id"),
        Index(None, "requested_at"),
        {"schema": TENANT_SCHEMA},
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    params_hash: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(120))
    role: Mapped[str | None] = mapped_column(String(16), default=None)
    correlation_id: Mapped[str | None] = mapped_column(String(64), default=None)
    causation_id: Mapped[str | None] = mapped_column(String(64), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(120), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    fencing_token: Mapped[int] = mapped_column(BigInteger, default=0)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
