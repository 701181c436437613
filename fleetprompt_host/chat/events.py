"""The chat event vocabulary: what a turn tells its caller, in order.

The CLI prints these (``--json-events``: one JSON object per line) and a later HTTP
endpoint sends the same events as Server-Sent Events, so the vocabulary is closed and
every event's fields are documented in ``docs/chat.md``:

``start``
    a turn began: ``conversation_id``, ``execution_id``, ``correlation_id``, ``model``.
``chunk``
    assistant text as it streams: ``text``, ``round``.
``tool_calls``
    the model asked for tools in one round: ``round``, ``calls`` (``id``, ``name``,
    ``arguments`` as sent).
``tool_start``
    one call starts executing: ``id``, ``name``.
``tool_result``
    one call finished: ``id``, ``name``, ``status`` (``ok``, ``error``, ``refused``),
    ``result`` or ``error``, ``directive`` (for write tools), ``duration_ms``.
``confirmation_required``
    a tool needs the user's yes: ``id``, ``name``, ``arguments``, ``arguments_hash``,
    ``preview``.
``complete``
    the turn ended: ``text``, ``rounds``, ``stop_reason``, ``usage``.
``error``
    the turn could not finish: ``code``, ``message``, ``retryable``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    """The closed set of chat event names."""

    START = "start"
    CHUNK = "chunk"
    TOOL_CALLS = "tool_calls"
    TOOL_START = "tool_start"
    TOOL_RESULT = "tool_result"
    CONFIRMATION_REQUIRED = "confirmation_required"
    COMPLETE = "complete"
    ERROR = "error"


@dataclass(frozen=True)
class ChatEvent:
    """One event of a chat turn: a type and JSON-safe data."""

    type: EventType
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"event": TYPE, **data}``."""
        return {"event": self.type.value, **self.data}

    def to_json(self) -> str:
        """Return the event as one line of JSON (``--json-events``)."""
        return json.dumps(self.to_dict(), default=str, separators=(",", ":"))

    def to_sse(self) -> str:
        """Return the event as a Server-Sent Events frame."""
        body = json.dumps(self.data, default=str, separators=(",", ":"))
        return f"event: {self.type.value}\ndata: {body}\n\n"


#: Where a turn sends its events.
EventSink = Callable[[ChatEvent], None]


def discard(_: ChatEvent) -> None:
    """An event sink that drops every event."""


class EventLog:
    """An event sink that keeps every event (tests, replay, the HTTP layer's buffer)."""

    def __init__(self) -> None:
        self.events: list[ChatEvent] = []

    def __call__(self, event: ChatEvent) -> None:
        self.events.append(event)

    def of(self, kind: EventType) -> list[ChatEvent]:
        """Return the events of one type, in order."""
        return [e for e in self.events if e.type is kind]

    @property
    def types(self) -> list[str]:
        """The event names in order, consecutive chunks collapsed into one."""
        out: list[str] = []
        for event in self.events:
            if event.type is EventType.CHUNK and out and out[-1] == EventType.CHUNK.value:
                continue
            out.append(event.type.value)
        return out

    @property
    def text(self) -> str:
        """All streamed assistant text, joined."""
        return "".join(str(e.data.get("text", "")) for e in self.of(EventType.CHUNK))
