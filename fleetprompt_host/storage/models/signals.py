"""Signals: immutable, append-only facts (the database refuses UPDATE and DELETE)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..base import TENANT_SCHEMA, JSONType, TenantBase, UTCDateTime, new_id, utcnow


class SignalRow(TenantBase):
    """One fact. ``seq`` is per-tenant and commit-ordered (allocate it from the
    ``signals`` counter, :func:`fleetprompt_host.storage.models.counters.allocate`).

    ``dedupe_key`` makes a re-emission a no-op; ``(source, source_event_id)`` does the same
    for facts imported from an outside system that has its own event ids.
    """

    __tablename__ = "signals"
    __table_args__ = (
        UniqueConstraint("source", "source_event_id"),
        Index(None, "type", "seq"),
        Index(None, "subject_type", "subject_id", "seq"),
        Index(None, "correlation_id"),
        Index(None, "occurred_at"),
        Index(None, "recorded_at"),
        {"schema": TENANT_SCHEMA},
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    type: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    source: Mapped[str] = mapped_column(String(200))
    source_event_id: Mapped[str | None] = mapped_column(String(200), default=None)
    subject_type: Mapped[str | None] = mapped_column(String(100), default=None)
    subject_id: Mapped[str | None] = mapped_column(String(200), default=None)
    actor: Mapped[str | None] = mapped_column(String(120), default=None)
    correlation_id: Mapped[str | None] = mapped_column(String(64), default=None)
    causation_id: Mapped[str | None] = mapped_column(String(64), default=None)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
