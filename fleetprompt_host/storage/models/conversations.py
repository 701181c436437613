"""Chat conversations and their messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..base import TENANT_SCHEMA, BigIntPK, JSONType, TenantBase, UTCDateTime, new_id, utcnow

MESSAGE_ROLES = ("system", "user", "assistant", "tool")


class ConversationRow(TenantBase):
    """A chat conversation started by an actor."""

    __tablename__ = "conversations"
    __table_args__ = (Index(None, "actor", "updated_at"), {"schema": TENANT_SCHEMA})

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str | None] = mapped_column(String(200), default=None)
    actor: Mapped[str] = mapped_column(String(120))
    agent: Mapped[str | None] = mapped_column(String(120), default=None)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MessageRow(TenantBase):
    """One message of a conversation, in order (``seq``)."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(f"role IN {MESSAGE_ROLES!r}", name="role"),
        UniqueConstraint("conversation_id", "seq"),
        {"schema": TENANT_SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(f"{TENANT_SCHEMA}.conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str | None] = mapped_column(Text, default=None)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    tool_calls: Mapped[list[Any] | None] = mapped_column(JSONType, default=None)
    tool_call_id: Mapped[str | None] = mapped_column(String(200), default=None)
    execution_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
