"""The one execution path of tool calls, for chat, ``fleetprompt tools call`` and later
HTTP and MCP.

For each call, in order:

1. **Resolve** the name in the tenant's :class:`~.catalog.ToolCatalog`. A tool that is not
   offered (unknown, package disabled or not installed, role too low, not in the agent
   profile) is refused; its code never runs.
2. **Parse and validate** the arguments against the tool's types. Errors become a result
   that names each bad field, so the model can correct itself on the next round.
3. **Run** the tool's code on a read-only tenant session (opened when the code first
   reads), on a worker thread (:mod:`.workers`) the caller stops waiting for when the
   tool's timeout passes. Read tools in one batch run concurrently. A tool that raises or times
   out gives an error result (and an error step); nothing propagates.
4. **Write tools** only *capture* the directive they ask for. A tool flagged
   requires-confirmation then asks (:class:`ConfirmationPolicy`): the user interactively,
   or a policy flag in non-interactive use; without either it is refused. A
   confirmation is bound to the tool and the hash of the exact validated arguments it
   was shown. The directive is then requested with the invocation's idempotency key
   (tenant, execution, tool-call id, argument hash), so a retried or replayed round finds
   the directive it requested before instead of requesting a second one.
5. **Embedded mode** (``run_inline``) runs the requested directive at once through the
   engine's runner, so the user sees its effect; otherwise it is left to a worker and the
   result says ``requested``.
6. **Record** a ``tool_call`` execution step per call (arguments, argument hash, result or
   error, duration, the directive requested), in call order.

The tenant and the actor come from the scope, never from arguments.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fleetprompt_host.storage.base import utcnow
from fleetprompt_sdk.enums import Effect
from fleetprompt_sdk.errors import FleetPromptError, ToolArgumentError

from .arguments import jsonable, parse_arguments, recorded_arguments
from .catalog import CatalogEntry, ToolCatalog
from .confirmation import ConfirmationPolicy, ConfirmationRequest
from .context import CapturedDirective, ToolRunContext
from .results import (
    InvocationIdentity,
    ToolResult,
    arguments_hash,
    error_result,
    from_exception,
)
from .steps import ExecutionRecorder
from .workers import POOL

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlalchemy.orm import Session

    from fleetprompt_host.registry import PackageRegistry
    from fleetprompt_host.storage import Database
    from fleetprompt_sdk.models import Actor


@dataclass(frozen=True)
class ToolCall:
    """A call to make: the caller's call id, the namespaced tool name, raw arguments."""

    id: str
    name: str
    arguments: str | dict[str, Any]


@dataclass
class DispatchScope:
    """What stays fixed for every call of one unit of work (a chat turn, a CLI call)."""

    db: Database
    registry: PackageRegistry
    tenant: str
    actor: Actor
    catalog: ToolCatalog
    execution_id: str
    correlation_id: str
    policy: ConfirmationPolicy = field(default_factory=ConfirmationPolicy)
    run_inline: bool = True
    #: Told before a confirmation is decided (the ``confirmation_required`` event).
    on_confirmation: Callable[[ConfirmationRequest], None] | None = None
    #: Told when a call starts running (the ``tool_start`` event).
    on_start: Callable[[ToolCall], None] | None = None


@dataclass
class _Prepared:
    call: ToolCall
    entry: CatalogEntry
    raw: dict[str, Any]
    arguments: BaseModel
    dumped: dict[str, Any]
    hash: str


@dataclass
class _Running:
    context: ToolRunContext | None = None
    value: Any = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.perf_counter)
    started_at: datetime = field(default_factory=utcnow)


class ToolDispatcher:
    """Runs tool calls for one :class:`DispatchScope` (see the module doc)."""

    def __init__(self, scope: DispatchScope, recorder: ExecutionRecorder | None = None) -> None:
        self.scope = scope
        self.recorder = recorder

    # -- public ------------------------------------------------------------------------
    def call(self, call: ToolCall) -> ToolResult:
        """Run one call and return its result."""
        return self.call_many([call])[0]

    def call_many(self, calls: list[ToolCall]) -> list[ToolResult]:
        """Run ``calls`` (reads concurrently, the rest in order); results in call order."""
        prepared = [self._prepare(call) for call in calls]
        running: dict[int, _Running] = {}
        for index, item in enumerate(prepared):
            if isinstance(item, _Prepared) and self._concurrent(item):
                running[index] = self._start(item)
        results: list[ToolResult] = []
        for index, item in enumerate(prepared):
            if isinstance(item, ToolResult):
                result = item
            elif index in running:
                result = self._finish_read(item, running[index])
            else:
                result = self._run_sequential(item)
            self._record(result, item)
            results.append(result)
        return results

    # -- preparation -------------------------------------------------------------------
    def _prepare(self, call: ToolCall) -> _Prepared | ToolResult:
        entry = self.scope.catalog.get(call.name)
        if entry is None:
            refused = error_result(
                call.id,
                call.name,
                "tool-not-available",
                self.scope.catalog.refusal(call.name),
                status="refused",
            )
            refused.arguments = recorded_arguments(call.arguments)
            return refused
        raw = parse_arguments(call.id, call.name, call.arguments)
        if isinstance(raw, ToolResult):
            raw.arguments = recorded_arguments(call.arguments)
            return raw
        try:
            arguments = entry.tool.validate_arguments(raw)
        except ToolArgumentError as exc:
            result = from_exception(call.id, call.name, exc)
            result.arguments = raw
            return result
        dumped = arguments.model_dump(mode="json")
        return _Prepared(call, entry, raw, arguments, dumped, arguments_hash(dumped))

    def _concurrent(self, item: _Prepared) -> bool:
        return item.entry.effect is Effect.READ and not item.entry.requires_confirmation

    def identity(self, item: _Prepared) -> InvocationIdentity:
        """Return the deterministic identity of a prepared call."""
        scope = self.scope
        return InvocationIdentity(scope.tenant, scope.execution_id, item.call.id, item.hash)

    # -- running the tool's code ---------------------------------------------------------
    def _start(self, item: _Prepared) -> _Running:
        if self.scope.on_start is not None:
            self.scope.on_start(item.call)
        state = _Running()
        POOL.submit(lambda: self._invoke(item, state))
        return state

    def _invoke(self, item: _Prepared, state: _Running) -> None:
        scope = self.scope
        manifest = scope.catalog.manifests[item.entry.package]
        try:
            with ExitStack() as stack:

                def open_session() -> Session:
                    # Entered on the worker's stack: closed when the tool's code returns.
                    return stack.enter_context(scope.db.tenant_session(scope.tenant, readonly=True))

                state.context = ToolRunContext(
                    open_session,
                    manifest,
                    tenant=scope.tenant,
                    actor=scope.actor,
                    correlation_id=scope.correlation_id,
                    effect=item.entry.effect,
                    tool=item.call.name,
                )
                state.value = item.entry.tool.invoke(state.context, item.arguments)
        except BaseException as exc:
            state.error = exc
        finally:
            state.done.set()

    def _wait(self, item: _Prepared, state: _Running) -> ToolResult | None:
        """Wait for the tool's code; return an error result, or None when it returned."""
        timeout = item.entry.timeout
        remaining = max(0.0, timeout - (time.perf_counter() - state.started))
        if not state.done.wait(remaining):
            if state.context is not None:
                state.context.abandoned = True
            return error_result(
                item.call.id,
                item.call.name,
                "tool-timeout",
                f"tool {item.call.name!r} did not finish within {timeout:g} s",
            )
        if state.error is not None:
            if not isinstance(state.error, Exception):
                raise state.error
            return from_exception(item.call.id, item.call.name, state.error)
        return None

    def _finish_read(self, item: _Prepared, state: _Running) -> ToolResult:
        failed = self._wait(item, state)
        result = failed or _ok(item, jsonable(state.value))
        return self._stamp(result, item, state)

    # -- write tools and confirmation --------------------------------------------------------
    def _run_sequential(self, item: _Prepared) -> ToolResult:
        if item.entry.effect is Effect.READ:
            confirmed = self._confirm(item, preview="", directive_type=None)
            if isinstance(confirmed, ToolResult):
                return confirmed
            state = self._start(item)
            result = self._finish_read(item, state)
            result.confirmed_by = confirmed
            return result
        state = self._start(item)
        failed = self._wait(item, state)
        if failed is not None:
            return self._stamp(failed, item, state)
        captured = state.context.captured if state.context is not None else None
        if captured is None:
            return self._stamp(_ok(item, jsonable(state.value)), item, state)
        confirmed_by: str | None = None
        if item.entry.requires_confirmation:
            decided = self._confirm(item, captured.preview, captured.type)
            if isinstance(decided, ToolResult):
                return self._stamp(decided, item, state)
            confirmed_by = decided
        return self._request(item, captured, state, confirmed_by)

    def _confirm(
        self, item: _Prepared, preview: str, directive_type: str | None
    ) -> str | ToolResult:
        """Return who confirmed, or the refusal result."""
        request = ConfirmationRequest(
            call_id=item.call.id,
            name=item.call.name,
            arguments=item.dumped,
            arguments_hash=item.hash,
            preview=preview or f"{item.call.name}({json.dumps(item.dumped, sort_keys=True)})",
            directive_type=directive_type,
        )
        if self.scope.policy.needs_asking(request) and self.scope.on_confirmation is not None:
            self.scope.on_confirmation(request)
        confirmed_by, refusal = self.scope.policy.decide(request)
        if confirmed_by is not None:
            return confirmed_by
        assert refusal is not None
        return error_result(
            item.call.id, item.call.name, refusal.code, refusal.message, status="refused"
        )

    def _request(
        self,
        item: _Prepared,
        captured: CapturedDirective,
        state: _Running,
        confirmed_by: str | None,
    ) -> ToolResult:
        from fleetprompt_host.engine.directives import DirectiveRequest, request_directive

        scope = self.scope
        identity = self.identity(item)
        req = DirectiveRequest(
            type=captured.type,
            params=captured.params,
            actor=scope.actor,
            key=identity.key,
            correlation_id=scope.correlation_id,
            causation_id=scope.execution_id,
        )
        try:
            with scope.db.tenant_session(scope.tenant) as session:
                directive, created = request_directive(session, scope.registry, scope.tenant, req)
                info = {
                    "id": directive.id,
                    "type": directive.type,
                    "status": directive.status.value,
                    "preview": captured.preview,
                    "created": created,
                }
                result = self._stamp(_ok(item, None), item, state)
                result.directive = info
                result.confirmed_by = confirmed_by
                if self.recorder is not None:
                    # The step commits with the request: no directive without its cause.
                    self._record(result, item)
                    self.recorder.flush(session)
                    result.extra["recorded"] = True
        except FleetPromptError as exc:
            return self._stamp(from_exception(item.call.id, item.call.name, exc), item, state)
        if scope.run_inline and created:
            self._run_now(info)
        return result

    def _run_now(self, info: dict[str, Any]) -> None:
        from fleetprompt_host.engine.inline import run_directive_now

        scope = self.scope
        outcome = run_directive_now(scope.db, scope.registry, scope.tenant, info["id"])
        if outcome is None:
            return
        info["run_execution_id"] = outcome.execution_id
        if outcome.result is not None:
            info["result"] = outcome.result
        if outcome.error is not None:
            info["error"] = outcome.error
        if outcome.status in ("succeeded", "failed", "canceled"):
            info["status"] = outcome.status
            return
        # A failed attempt that will be retried, or a run another worker took over.
        info["status"] = _directive_status(scope, info["id"])
        info["will_retry"] = outcome.status == "retry"

    # -- bookkeeping ---------------------------------------------------------------------
    def _stamp(self, result: ToolResult, item: _Prepared, state: _Running) -> ToolResult:
        result.arguments = item.raw
        result.arguments_hash = item.hash
        result.effect = item.entry.effect.value
        result.duration_ms = (time.perf_counter() - state.started) * 1000
        result.started_at = state.started_at
        return result

    def _record(self, result: ToolResult, item: _Prepared | ToolResult) -> None:
        if self.recorder is None or result.extra.get("recorded"):
            return
        call_id = result.call_id
        step_input: dict[str, Any] = {"call_id": call_id, "arguments": result.arguments}
        if result.arguments_hash is not None:
            step_input["arguments_hash"] = result.arguments_hash
        if result.effect is not None:
            step_input["effect"] = result.effect
        if isinstance(item, _Prepared):
            step_input["idempotency_key"] = self.identity(item).key
        self.recorder.add(
            "tool_call",
            result.name,
            input=step_input,
            output=result.to_record(),
            error=result.error,
            duration_ms=round(result.duration_ms, 3),
            **({"started_at": result.started_at} if result.started_at is not None else {}),
        )


def _directive_status(scope: DispatchScope, directive_id: str) -> str:
    from fleetprompt_host.storage.models import DirectiveRow

    with scope.db.tenant_session(scope.tenant, readonly=True) as session:
        row = session.get(DirectiveRow, directive_id)
        return row.status if row is not None else "unknown"


def _ok(item: _Prepared, value: Any) -> ToolResult:
    return ToolResult(call_id=item.call.id, name=item.call.name, status="ok", output=value)
