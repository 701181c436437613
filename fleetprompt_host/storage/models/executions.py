"""Executions and their steps: the durable record of work performed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..base import TENANT_SCHEMA, BigIntPK, JSONType, TenantBase, UTCDateTime, new_id, utcnow

EXECUTION_STATUSES = ("running", "succeeded", "failed", "canceled")
STEP_KINDS = ("llm_call", "tool_call", "handler_delivery", "directive_run", "signal_emitted")


class ExecutionRow(TenantBase):
    """One unit of work (``kind``: chat, directive, delivery, workflow ...)."""

    __tablename__ = "executions"
    __table_args__ = (
        CheckConstraint(f"status IN {EXECUTION_STATUSES!r}", name="status"),
        Index(None, "correlation_id"),
        Index(None, "kind", "started_at"),
        Index(None, "status", "started_at"),
        Index(None, "started_at"),
        {"schema": TENANT_SCHEMA},
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")
    actor: Mapped[str | None] = mapped_column(String(120), default=None)
    correlation_id: Mapped[str | None] = mapped_column(String(64), default=None)
    causation_id: Mapped[str | None] = mapped_column(String(64), default=None)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class ExecutionStepRow(TenantBase):
    """One step of an execution, in order (``seq``), with its inputs, outputs and cost."""

    __tablename__ = "execution_steps"
    __table_args__ = (
        CheckConstraint(f"kind IN {STEP_KINDS!r}", name="kind"),
        UniqueConstraint("execution_id", "seq"),
        Index(None, "kind", "started_at"),
        {"schema": TENANT_SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(f"{TENANT_SCHEMA}.executions.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    input: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[float | None] = mapped_column(Float, default=None)
    tokens_in: Mapped[int | None] = mapped_column(Integer, default=None)
    tokens_out: Mapped[int | None] = mapped_column(Integer, default=None)
    cost: Mapped[float | None] = mapped_column(Float, default=None)
