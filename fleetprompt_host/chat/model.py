"""Calling the model through litellm: streaming, tool-call accumulation, retries.

This is the only module that imports litellm, and only inside :func:`load_litellm`, with
``LITELLM_LOCAL_MODEL_COST_MAP=True`` set first so that importing it never reaches the
network. Every other command stays free of its import cost.

Retries: a rate limit (429), a timeout, a connection failure or a server error (5xx) is
retried with exponential backoff (honouring ``Retry-After``) when nothing of the reply
has been shown yet; once text has streamed to the user a retry would repeat it, so the
error is reported instead. Authentication, permission and request errors are never
retried: retrying cannot fix them.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from fleetprompt_sdk.errors import FleetPromptError

if TYPE_CHECKING:
    from types import ModuleType

#: Fallback key sent to OpenAI-compatible servers given by ``--api-base`` that need none.
PLACEHOLDER_KEY = "fleetprompt-local"
MAX_RETRY_AFTER = 30.0
#: Set to 1 to keep litellm's per-chunk streaming logging (for litellm callbacks).
STREAM_LOGGING_ENV = "FLEETPROMPT_LITELLM_STREAM_LOGGING"

_litellm: ModuleType | None = None
_litellm_lock = threading.Lock()


def load_litellm() -> ModuleType:
    """Import litellm once, offline-safe and quiet."""
    global _litellm
    if _litellm is None:
        with _litellm_lock:
            if _litellm is None:
                os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
                import litellm

                litellm.suppress_debug_info = True
                litellm.telemetry = False
                # litellm hands every streamed chunk to its logging callbacks in a thread,
                # which costs more per chunk than everything else FleetPrompt does with
                # it; FleetPrompt records its own steps. Opt back in for litellm callbacks.
                litellm.disable_streaming_logging = os.environ.get(STREAM_LOGGING_ENV) != "1"
                # litellm leaves several hundred thousand long-lived objects (its model
                # and price tables); a full garbage collection walking them takes
                # hundreds of milliseconds on a small machine. Freezing what exists now
                # keeps later collections to the objects a chat actually creates.
                gc.freeze()
                _litellm = litellm
    return _litellm


class ModelError(FleetPromptError):
    """The model provider failed: ``kind`` says how, ``retryable`` whether retrying can help."""

    code = "model-error"
    audience = "operator"

    def __init__(
        self, message: str, *, kind: str, retryable: bool, status: int | None = None
    ) -> None:
        super().__init__(message, code=f"model-{kind}")
        self.kind = kind
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class ToolCallRequest:
    """A tool call the model asked for: its id, the tool's name and the raw arguments."""

    id: str
    name: str
    arguments: str

    def to_dict(self) -> dict[str, Any]:
        """Return the OpenAI ``tool_calls`` entry."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass
class ModelReply:
    """One model answer: its text, the tool calls it asked for, tokens, cost and timing."""

    text: str
    tool_calls: list[ToolCallRequest]
    finish_reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    model: str = ""
    latency_ms: float = 0.0
    attempts: int = 1

    def to_message(self) -> dict[str, Any]:
        """Return the assistant message to append to the conversation."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        return message

    def to_record(self) -> dict[str, Any]:
        """Return the reply as stored in an execution step (enough to replay it)."""
        return {
            "text": self.text,
            "tool_calls": [call.to_dict() for call in self.tool_calls],
            "finish_reason": self.finish_reason,
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
            },
            "attempts": self.attempts,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any], model: str = "") -> ModelReply:
        """Rebuild a reply stored by :meth:`to_record`."""
        usage = record.get("usage") or {}
        calls = [
            ToolCallRequest(c["id"], c["function"]["name"], c["function"]["arguments"])
            for c in record.get("tool_calls") or []
        ]
        return cls(
            text=record.get("text") or "",
            tool_calls=calls,
            finish_reason=record.get("finish_reason"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            model=model,
        )


@dataclass(frozen=True)
class ModelSettings:
    """Which model to call and how."""

    model: str
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    stream: bool = True
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = 120.0
    max_retries: int = 3
    backoff: float = 0.5
    #: Prices per token (input, output) for models litellm does not know.
    price_per_token: tuple[float, float] | None = None

    def request_options(self) -> dict[str, Any]:
        """Return the keyword arguments for ``litellm.completion`` (never logged)."""
        options: dict[str, Any] = {"model": self.model, "timeout": self.timeout, "max_retries": 0}
        if self.api_base:
            options["api_base"] = self.api_base
            if "/" not in self.model:
                options["custom_llm_provider"] = "openai"
        key = self.api_key or (PLACEHOLDER_KEY if self.api_base and not _has_key() else None)
        if key:
            options["api_key"] = key
        if self.temperature is not None:
            options["temperature"] = self.temperature
        if self.max_tokens is not None:
            options["max_tokens"] = self.max_tokens
        return options


def _has_key() -> bool:
    return bool(os.environ.get("OPENAI_API_KEY"))


TextSink = Callable[[str], None]


class ModelClient(Protocol):
    """What the chat loop needs from a model: one completion per call."""

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], on_text: TextSink
    ) -> ModelReply:
        """Return the model's reply to ``messages``, streaming text to ``on_text``."""
        ...


class _Accumulator:
    """Builds one reply from streamed deltas (tool calls arrive in pieces, by index)."""

    def __init__(self, on_text: TextSink) -> None:
        self.on_text = on_text
        self.text: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: tuple[int, int] | None = None
        self.shown = False

    def add(self, chunk: Any) -> None:
        usage = _usage_of(chunk)
        if usage is not None and getattr(usage, "total_tokens", None):
            self.usage = (int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0))
        for choice in getattr(chunk, "choices", None) or []:
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
            delta = choice.delta
            content = getattr(delta, "content", None)
            if content:
                self.text.append(content)
                self.shown = True
                self.on_text(content)
            for call in getattr(delta, "tool_calls", None) or []:
                slot = self.calls.setdefault(call.index or 0, {"id": "", "name": "", "args": []})
                if call.id:
                    slot["id"] = call.id
                function = call.function
                if function is not None:
                    if function.name:
                        slot["name"] = function.name
                    if function.arguments:
                        slot["args"].append(function.arguments)

    def tool_calls(self) -> list[ToolCallRequest]:
        out = []
        for index in sorted(self.calls):
            slot = self.calls[index]
            call_id = slot["id"] or f"call_{index}"
            out.append(ToolCallRequest(call_id, slot["name"], "".join(slot["args"])))
        return out


def _usage_of(chunk: Any) -> Any:
    """Return a streamed chunk's usage, or None.

    litellm's chunks carry ``usage`` (on the last one) as a pydantic extra: asking every
    chunk with ``getattr`` raises and catches an AttributeError inside pydantic, which
    costs as much as reading the rest of the chunk. The extras are a plain dict.
    """
    extra = getattr(chunk, "__pydantic_extra__", None)
    if isinstance(extra, dict):
        found = extra.get("usage")
        return found if found is not None else chunk.__dict__.get("usage")
    return getattr(chunk, "usage", None)


class LiteLLMClient:
    """A :class:`ModelClient` that calls any provider through litellm."""

    def __init__(self, settings: ModelSettings, *, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.litellm = load_litellm()
        self._sleep = sleep
        self._price_unknown = False

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], on_text: TextSink
    ) -> ModelReply:
        """Call the model, retrying where that is safe (see the module doc)."""
        attempt = 0
        started = time.perf_counter()
        while True:
            attempt += 1
            acc = _Accumulator(on_text)
            try:
                reply = self._once(messages, tools, acc)
            except Exception as exc:
                error = classify(exc, self.litellm)
                if not error.retryable or acc.shown or attempt > self.settings.max_retries:
                    if acc.shown and error.retryable:
                        error.message += " (not retried: part of the reply was already shown)"
                    elif attempt > 1:
                        error.message += f" (after {attempt} attempts)"
                    raise error from None
                self._sleep(self._delay(exc, attempt))
                continue
            reply.attempts = attempt
            reply.latency_ms = (time.perf_counter() - started) * 1000
            return reply

    def _delay(self, exc: Exception, attempt: int) -> float:
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        retry_after = headers.get("retry-after") if hasattr(headers, "get") else None
        if retry_after is not None:
            try:
                return min(MAX_RETRY_AFTER, max(0.0, float(retry_after)))
            except ValueError:
                pass
        return float(self.settings.backoff * (2 ** (attempt - 1)))

    def _once(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], acc: _Accumulator
    ) -> ModelReply:
        options = self.settings.request_options()
        if tools:
            options["tools"] = tools
        if not self.settings.stream:
            response = self.litellm.completion(messages=messages, stream=False, **options)
            return self._from_response(response, acc.on_text)
        stream = self.litellm.completion(
            messages=messages, stream=True, stream_options={"include_usage": True}, **options
        )
        for chunk in stream:
            acc.add(chunk)
        prompt, completion = acc.usage or (0, 0)
        return ModelReply(
            text="".join(acc.text),
            tool_calls=acc.tool_calls(),
            finish_reason=acc.finish_reason,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost=self.cost(prompt, completion),
            model=self.settings.model,
        )

    def _from_response(self, response: Any, on_text: TextSink) -> ModelReply:
        choice = response.choices[0]
        message = choice.message
        text = message.content or ""
        if text:
            on_text(text)
        calls = [
            ToolCallRequest(c.id, c.function.name or "", c.function.arguments or "")
            for c in (message.tool_calls or [])
        ]
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        return ModelReply(
            text=text,
            tool_calls=calls,
            finish_reason=choice.finish_reason,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost=self.cost(prompt, completion),
            model=self.settings.model,
        )

    def cost(self, prompt: int, completion: int) -> float | None:
        """Return the cost in USD of a call, or None when the model's price is unknown."""
        if self.settings.price_per_token is not None:
            inp, out = self.settings.price_per_token
            return prompt * inp + completion * out
        if self._price_unknown:
            return None
        try:
            a, b = self.litellm.cost_per_token(
                model=self.settings.model, prompt_tokens=prompt, completion_tokens=completion
            )
        except Exception:
            # litellm's price table is loaded once per process (offline): a model it
            # does not know now, it will not know on the next call.
            self._price_unknown = True
            return None
        return float(a + b)


_STATUS_KINDS = {
    400: ("bad-request", False),
    401: ("auth", False),
    403: ("permission", False),
    404: ("not-found", False),
    408: ("timeout", True),
    409: ("server", True),
    413: ("bad-request", False),
    422: ("bad-request", False),
    429: ("rate-limit", True),
}


def classify(exc: BaseException, litellm: Any) -> ModelError:
    """Turn a provider exception into a :class:`ModelError` with a kind and retryability."""
    if isinstance(exc, ModelError):
        return exc
    status = getattr(exc, "status_code", None)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, litellm.exceptions.Timeout):
        kind, retryable = "timeout", True
    elif isinstance(exc, litellm.exceptions.APIConnectionError) and status in (None, 500):
        kind, retryable = "connection", True
    elif isinstance(status, int) and status in _STATUS_KINDS:
        kind, retryable = _STATUS_KINDS[status]
    elif isinstance(status, int) and status >= 500:
        kind, retryable = "server", True
    else:
        kind, retryable = "provider", False
    hint = " (check the provider's API key)" if kind == "auth" else ""
    return ModelError(
        f"model call failed: {text}{hint}", kind=kind, retryable=retryable, status=status
    )
