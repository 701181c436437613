"""What one tool invocation is and what it produced.

An invocation's identity is deterministic: the tenant, the execution it belongs to, the
model's tool-call id and the hash of its validated arguments. The identity's key is the
idempotency key of the directive a write tool requests, so re-running the same round
(a retry, a resumed turn) finds the directive requested the first time instead of
requesting a second one.

A result is always data, never an exception: the model reads errors (bad arguments, a
refused tool, a tool that raised or timed out) as tool results it can react to.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from fleetprompt_sdk.errors import FleetPromptError, ToolArgumentError

Status = Literal["ok", "error", "refused"]


def canonical(value: Any) -> str:
    """Return the canonical JSON text of ``value`` (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def arguments_hash(arguments: dict[str, Any]) -> str:
    """Return the SHA-256 hex digest of the canonical JSON of ``arguments``."""
    return hashlib.sha256(canonical(arguments).encode()).hexdigest()


@dataclass(frozen=True)
class InvocationIdentity:
    """Who and what a tool invocation is; its :attr:`key` is stable across retries."""

    tenant: str
    execution_id: str
    call_id: str
    arguments_hash: str

    @property
    def key(self) -> str:
        """The idempotency key of a directive this invocation requests."""
        parts = [self.tenant, self.execution_id, self.call_id, self.arguments_hash]
        return "tool:" + hashlib.sha256(canonical(parts).encode()).hexdigest()[:48]


@dataclass
class ToolResult:
    """The outcome of one tool call, as the model, the events and the records see it."""

    call_id: str
    name: str
    status: Status
    output: Any = None
    error: dict[str, Any] | None = None
    directive: dict[str, Any] | None = None
    arguments: dict[str, Any] | None = None
    arguments_hash: str | None = None
    duration_ms: float = 0.0
    #: How a confirmation-required call was let through: "user", "policy" or "granted".
    confirmed_by: str | None = None
    effect: str | None = None
    started_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the tool ran and returned a value."""
        return self.status == "ok"

    def for_model(self) -> str:
        """Return the tool message content the model reads (JSON text)."""
        if self.status != "ok":
            return canonical({"error": self.error or {"code": "tool-error", "message": "failed"}})
        if self.directive is not None:
            return canonical({"directive": self.directive})
        return canonical(self.output)

    def to_event(self) -> dict[str, Any]:
        """Return the data of a ``tool_result`` event."""
        data: dict[str, Any] = {
            "id": self.call_id,
            "name": self.name,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
        }
        if self.status == "ok":
            data["result"] = self.output
        else:
            data["error"] = self.error
        if self.directive is not None:
            data["directive"] = self.directive
        return data

    def to_record(self) -> dict[str, Any]:
        """Return the output document of the tool-call execution step."""
        record: dict[str, Any] = {"status": self.status}
        if self.status == "ok":
            record["result"] = self.output
        if self.directive is not None:
            record["directive"] = self.directive
        if self.confirmed_by is not None:
            record["confirmed_by"] = self.confirmed_by
        return record


def error_result(
    call_id: str, name: str, code: str, message: str, *, status: Status = "error", **extra: Any
) -> ToolResult:
    """Return a failed result with ``{code, message}`` (plus ``extra`` error fields)."""
    return ToolResult(
        call_id=call_id, name=name, status=status, error={"code": code, "message": message, **extra}
    )


def from_exception(call_id: str, name: str, exc: BaseException) -> ToolResult:
    """Return the error result for an exception a tool raised (never re-raised)."""
    if isinstance(exc, ToolArgumentError):
        problems = [{"path": p.path, "code": p.code, "message": p.message} for p in exc.problems]
        result = error_result(call_id, name, exc.code, exc.message)
        if problems and result.error is not None:
            result.error["problems"] = problems
        return result
    if isinstance(exc, FleetPromptError):
        return error_result(call_id, name, exc.code, exc.message)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = f"tool {name!r} failed: {type(exc).__name__}" + (f": {text}" if text else "")
    return error_result(call_id, name, "tool-failed", message)
