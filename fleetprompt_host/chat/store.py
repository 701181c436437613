"""Durable conversations: the messages of a chat, in order, in the tenant's storage.

A conversation belongs to the actor who started it; only that actor (or a system actor)
can continue it. Messages are stored in the OpenAI chat format the model receives
(``user``, ``assistant`` with ``tool_calls``, ``tool`` with ``tool_call_id``), each
tagged with the execution (turn) that produced it. The system prompt is not stored: it
is rebuilt for every turn from what the tenant has installed.

Writes are plain Core INSERTs joined to the turn's own transactions; the
:class:`Conversation` handle numbers messages itself (the unique ``(conversation_id,
seq)`` pair refuses a second writer that raced it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from fleetprompt_host.storage.base import new_id, utcnow
from fleetprompt_host.storage.models import ConversationRow, MessageRow
from fleetprompt_sdk.errors import NotFoundError, PermissionDeniedError

TITLE_LENGTH = 80
_MESSAGES = cast(Table, MessageRow.__table__)
_CONVERSATIONS = cast(Table, ConversationRow.__table__)
# Built once; executing them with fresh parameters is a compiled-cache hit.
_INSERT_MESSAGES = insert(_MESSAGES)
_INSERT_CONVERSATION = insert(_CONVERSATIONS)
_TOUCH = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("conversation_id"))
    .values(updated_at=bindparam("now", type_=_CONVERSATIONS.c.updated_at.type))
)


@dataclass
class Conversation:
    """An open conversation: its id, its earlier messages and the next message number."""

    id: str
    history: list[dict[str, Any]]
    next_seq: int

    def append(self, session: Session, messages: list[dict[str, Any]], execution_id: str) -> None:
        """Store ``messages`` after the last one (one multi-row INSERT)."""
        if not messages:
            return
        now = utcnow()
        rows = [
            {
                "conversation_id": self.id,
                "seq": self.next_seq + offset,
                "role": message["role"],
                "content": message.get("content"),
                "name": message.get("name"),
                "tool_calls": message.get("tool_calls"),
                "tool_call_id": message.get("tool_call_id"),
                "execution_id": execution_id,
                "created_at": now,
            }
            for offset, message in enumerate(messages)
        ]
        session.connection().execute(_INSERT_MESSAGES, rows)
        self.next_seq += len(rows)

    def touch(self, session: Session) -> None:
        """Record that the conversation changed now."""
        session.connection().execute(_TOUCH, {"conversation_id": self.id, "now": utcnow()})


def open_conversation(
    session: Session,
    conversation_id: str | None,
    *,
    actor: str,
    agent: str | None,
    first_message: str,
) -> Conversation:
    """Return the conversation to continue (with its messages), or a new one.

    Raises :class:`NotFoundError` (``conversation-not-found``) for an unknown id and
    :class:`PermissionDeniedError` (``conversation-not-yours``) for another actor's.
    """
    if conversation_id is None:
        new = new_id()
        now = utcnow()
        title = " ".join(first_message.split())[:TITLE_LENGTH] or None
        session.connection().execute(
            _INSERT_CONVERSATION,
            {
                "id": new,
                "actor": actor,
                "agent": agent,
                "title": title,
                "meta": {},
                "created_at": now,
                "updated_at": now,
            },
        )
        return Conversation(new, [], 1)
    row = session.get(ConversationRow, conversation_id)
    if row is None:
        raise NotFoundError(
            f"conversation {conversation_id!r} does not exist in this tenant",
            code="conversation-not-found",
        )
    if row.actor != actor and not actor.startswith("system:"):
        raise PermissionDeniedError(
            f"conversation {conversation_id!r} belongs to {row.actor}",
            code="conversation-not-yours",
        )
    last = session.execute(
        select(func.max(MessageRow.seq)).where(MessageRow.conversation_id == row.id)
    ).scalar_one()
    return Conversation(row.id, load_messages(session, row.id), int(last or 0) + 1)


def load_messages(session: Session, conversation_id: str) -> list[dict[str, Any]]:
    """Return the conversation's messages in order, in the OpenAI chat format."""
    rows = session.execute(
        select(MessageRow)
        .where(MessageRow.conversation_id == conversation_id)
        .order_by(MessageRow.seq)
    ).scalars()
    return [to_message(row) for row in rows]


def to_message(row: MessageRow) -> dict[str, Any]:
    """Return one stored message as a chat message."""
    message: dict[str, Any] = {"role": row.role, "content": row.content}
    if row.tool_calls:
        message["tool_calls"] = row.tool_calls
    if row.tool_call_id is not None:
        message["tool_call_id"] = row.tool_call_id
    if row.name is not None:
        message["name"] = row.name
    return message
