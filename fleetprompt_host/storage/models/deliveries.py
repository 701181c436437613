"""Deliveries: the durable fan-out of one signal to one handler, with leases and retries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..base import TENANT_SCHEMA, BigIntPK, JSONType, TenantBase, UTCDateTime, utcnow

DELIVERY_STATUSES = ("pending", "done", "dead")


class DeliveryRow(TenantBase):
    """Signal ``signal_id`` delivered to ``handler`` (``"pkg:handler"``).

    A worker claims a due row (``status='pending' AND next_attempt_at <= now``) by setting
    ``lease_owner``/``lease_expires_at`` and incrementing ``fencing_token``; a write that
    carries a stale token is refused by the engine. The first delivery of a signal to a
    handler is unique; replays (``replay=True``) add further rows.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN {DELIVERY_STATUSES!r}", name="status"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "signal_id"),
        Index(
            "uq_deliveries_first_delivery",
            "signal_id",
            "handler",
            unique=True,
            postgresql_where=text("NOT replay"),
            sqlite_where=text("replay = 0"),
        ),
        {"schema": TENANT_SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    signal_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(f"{TENANT_SCHEMA}.signals.id", ondelete="CASCADE")
    )
    signal_seq: Mapped[int] = mapped_column(BigInteger)
    handler: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(120), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    fencing_token: Mapped[int] = mapped_column(BigInteger, default=0)
    replay: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
