"""What the scripted LLM server answers: scripted replies, and the requests it received.

See :mod:`fleetprompt_host.testing.llm_server` for the server itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCallScript:
    """One tool call in a scripted reply.

    ``arguments`` is a dict (sent as JSON) or a string sent verbatim, which is how a test
    scripts malformed arguments. ``id`` defaults to ``call_<n>``.
    """

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_text(self) -> str:
        """Return the arguments as the model would send them."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class Reply:
    """One scripted answer to one request.

    ``status`` other than 200 makes an error reply with ``error_message``. ``delay`` is
    waited before anything is sent; ``chunk_delay`` between streamed chunks.
    ``chunk_size`` is the number of characters of text or arguments per chunk.
    ``usage`` is ``(prompt_tokens, completion_tokens)``; by default it is estimated.
    """

    text: str = ""
    tool_calls: tuple[ToolCallScript, ...] = ()
    status: int = 200
    error_message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_size: int = 8
    usage: tuple[int, int] | None = None
    finish_reason: str | None = None


def text_reply(text: str, **options: Any) -> Reply:
    """Return a reply whose assistant message is ``text``."""
    return Reply(text=text, **options)


def tool_calls_reply(*calls: ToolCallScript, text: str = "", **options: Any) -> Reply:
    """Return a reply that calls ``calls`` (in order), optionally with some text first."""
    return Reply(text=text, tool_calls=tuple(calls), **options)


def error_reply(status: int, message: str = "", **options: Any) -> Reply:
    """Return an HTTP error reply (429 rate limit, 500 server error, 401 auth ...)."""
    return Reply(status=status, error_message=message or f"scripted error {status}", **options)


@dataclass(frozen=True)
class ReceivedRequest:
    """A request the server received, for assertions on what the client sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent."""
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tools offered, in OpenAI function-calling format."""
        return list(self.body.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools offered."""
        return [t["function"]["name"] for t in self.tools]

    @property
    def stream(self) -> bool:
        """Whether a streamed reply was asked for."""
        return bool(self.body.get("stream"))


Responder = Callable[[ReceivedRequest], Reply]


def estimate_usage(request: ReceivedRequest, reply: Reply) -> tuple[int, int]:
    if reply.usage is not None:
        return reply.usage
    prompt = max(1, len(json.dumps(request.messages)) // 4)
    completion = len(reply.text) + sum(
        len(c.name) + len(c.arguments_text()) for c in reply.tool_calls
    )
    return prompt, max(1, completion // 4)


def pieces(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]
