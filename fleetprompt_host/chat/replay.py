"""Replaying a recorded chat turn: the recorded model replies, today's tools, no network.

``fleetprompt executions replay ID`` walks a chat execution's steps in order. Model
replies come from the recorded ``llm_call`` steps (no model client is built, so nothing
reaches the network). Each recorded tool call is then checked against today:

- **read tools** run again, on a read-only session, with the recorded arguments; their
  results are compared with the recorded ones;
- **write tools** (and tools that need the user's confirmation) are not run again (that
  would request a second change); their recorded arguments are validated against
  today's tool types;
- a tool the tenant no longer offers to the recorded actor and agent is a difference.

It also compares the tool contracts offered then and now (added, removed, changed
name/description/parameters) and the system prompt. The report is a regression check
for package authors: a replay with no differences means today's packages answer the
recorded conversation the same way. Replays write nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from fleetprompt_host.engine.jsonsafe import redact
from fleetprompt_host.storage.models import ExecutionRow, ExecutionStepRow
from fleetprompt_host.tools.catalog import ToolCatalog, build_catalog
from fleetprompt_host.tools.confirmation import ConfirmationPolicy
from fleetprompt_host.tools.dispatch import DispatchScope, ToolCall, ToolDispatcher
from fleetprompt_host.tools.results import ToolResult
from fleetprompt_sdk.enums import Effect
from fleetprompt_sdk.errors import InvalidInputError, NotFoundError, ToolArgumentError
from fleetprompt_sdk.models import Actor

from .events import ChatEvent, EventSink, EventType, discard
from .model import ModelReply
from .prompt import system_prompt
from .schema_diff import SchemaChange, compare_tools

if TYPE_CHECKING:
    from fleetprompt_host.registry import PackageRegistry
    from fleetprompt_host.storage import Database


@dataclass
class CallComparison:
    """One recorded tool call and what today's tools make of it."""

    round: int
    call_id: str
    name: str
    replayed: bool
    same: bool
    recorded: dict[str, Any]
    today: dict[str, Any] | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form used by ``executions replay --json``."""
        return {
            "round": self.round,
            "call_id": self.call_id,
            "name": self.name,
            "replayed": self.replayed,
            "same": self.same,
            "recorded": self.recorded,
            "today": self.today,
            "note": self.note,
        }


@dataclass
class ReplayReport:
    """The outcome of a replay (see the module doc)."""

    execution_id: str
    conversation_id: str | None
    model: str | None
    rounds: int = 0
    text: str = ""
    calls: list[CallComparison] = field(default_factory=list)
    schema_changes: list[SchemaChange] = field(default_factory=list)
    prompt_changed: bool = False

    @property
    def differences(self) -> int:
        """How many things differ from the recording."""
        return (
            sum(1 for c in self.calls if not c.same)
            + len(self.schema_changes)
            + int(self.prompt_changed)
        )

    @property
    def matches(self) -> bool:
        """True when today's packages answer the recorded turn the same way."""
        return self.differences == 0

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form used by ``executions replay --json``."""
        return {
            "execution_id": self.execution_id,
            "conversation_id": self.conversation_id,
            "model": self.model,
            "rounds": self.rounds,
            "text": self.text,
            "matches": self.matches,
            "differences": self.differences,
            "prompt_changed": self.prompt_changed,
            "schema_changes": [c.to_json() for c in self.schema_changes],
            "calls": [c.to_json() for c in self.calls],
        }


def _load(
    db: Database, tenant: str, execution_id: str
) -> tuple[ExecutionRow, list[ExecutionStepRow]]:
    with db.tenant_session(tenant, readonly=True) as session:
        execution = session.get(ExecutionRow, execution_id)
        if execution is None:
            raise NotFoundError(
                f"execution {execution_id!r} does not exist in tenant {tenant!r}",
                code="execution-not-found",
            )
        steps = list(
            session.execute(
                select(ExecutionStepRow)
                .where(ExecutionStepRow.execution_id == execution_id)
                .order_by(ExecutionStepRow.seq)
            ).scalars()
        )
        session.expunge_all()
    if execution.kind != "chat":
        raise InvalidInputError(
            f"execution {execution_id} is a {execution.kind} execution; only chat turns can be "
            "replayed against their model replies",
            code="not-a-chat-execution",
        )
    return execution, steps


def _comparable(status: str, output: Any, error: Any) -> dict[str, Any]:
    """Reduce a tool outcome to what a replay compares (as stored: redacted JSON)."""
    doc: dict[str, Any] = {"status": status}
    if status == "ok":
        doc["result"] = (output or {}).get("result")
        if (output or {}).get("directive") is not None:
            doc["directive"] = True
    else:
        doc["error"] = {"code": (error or {}).get("code"), "message": (error or {}).get("message")}
    stored: dict[str, Any] = json.loads(json.dumps(redact(doc), default=str))
    return stored


def _recorded(step: ExecutionStepRow | None) -> dict[str, Any]:
    if step is None:
        return {"status": "missing"}
    output = step.output or {}
    return _comparable(str(output.get("status") or "error"), output, step.error)


def _today(result: ToolResult) -> dict[str, Any]:
    return _comparable(result.status, result.to_record(), result.error)


class _Replay:
    def __init__(
        self,
        db: Database,
        registry: PackageRegistry,
        tenant: str,
        execution: ExecutionRow,
        steps: list[ExecutionStepRow],
        sink: EventSink,
    ) -> None:
        self.db, self.registry, self.tenant, self.sink = db, registry, tenant, sink
        self.execution = execution
        self.llm_steps = [s for s in steps if s.kind == "llm_call"]
        self.tool_steps = {
            str((s.input or {}).get("call_id")): s for s in steps if s.kind == "tool_call"
        }
        summary = execution.summary or {}
        self.report = ReplayReport(
            execution.id, summary.get("conversation_id"), summary.get("model")
        )
        actor = Actor.parse(execution.actor or "system:replay")
        with db.tenant_session(tenant, readonly=True) as session:
            self.catalog: ToolCatalog = build_catalog(
                session, registry, tenant, actor, agent=summary.get("agent")
            )
        self.dispatcher = ToolDispatcher(
            DispatchScope(
                db=db,
                registry=registry,
                tenant=tenant,
                actor=actor,
                catalog=self.catalog,
                execution_id=execution.id,
                correlation_id=execution.correlation_id or execution.id,
                policy=ConfirmationPolicy(),
                run_inline=False,
                on_start=lambda call: self.emit(EventType.TOOL_START, id=call.id, name=call.name),
            )
        )

    def emit(self, kind: EventType, **data: Any) -> None:
        self.sink(ChatEvent(kind, data))

    def run(self) -> ReplayReport:
        report = self.report
        self.emit(
            EventType.START,
            conversation_id=report.conversation_id,
            execution_id=report.execution_id,
            model=report.model,
            replay=True,
        )
        if self.llm_steps:
            first = self.llm_steps[0].input or {}
            report.schema_changes = compare_tools(
                first.get("tools") or {}, first.get("tools_offered"), self.catalog
            )
            messages = first.get("messages") or []
            if messages and messages[0].get("role") == "system":
                report.prompt_changed = messages[0].get("content") != system_prompt(self.catalog)
        for step in self.llm_steps:
            report.rounds += 1
            if step.error is not None:
                self.emit(EventType.ERROR, **{**step.error, "recorded": True})
                return report
            reply = ModelReply.from_record(step.output or {}, report.model or "")
            if reply.text:
                self.emit(EventType.CHUNK, text=reply.text, round=report.rounds)
            if not reply.tool_calls:
                report.text = reply.text
                continue
            self._round(reply)
        self.emit(
            EventType.COMPLETE,
            text=report.text,
            rounds=report.rounds,
            stop_reason="replayed",
            execution_id=report.execution_id,
            differences=report.differences,
        )
        return report

    def _round(self, reply: ModelReply) -> None:
        calls = [ToolCall(c.id, c.name, c.arguments) for c in reply.tool_calls]
        self.emit(
            EventType.TOOL_CALLS,
            round=self.report.rounds,
            calls=[{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls],
        )
        reads = [c for c in calls if self._rerun(c)]
        results = {r.call_id: r for r in self.dispatcher.call_many(reads)}
        for call in calls:
            recorded = _recorded(self.tool_steps.get(call.id))
            result = results.get(call.id)
            if result is not None:
                today = _today(result)
                comparison = CallComparison(
                    self.report.rounds, call.id, call.name, True, today == recorded, recorded, today
                )
                self.emit(EventType.TOOL_RESULT, **result.to_event(), same=comparison.same)
            else:
                comparison = self._not_rerun(call, recorded)
                self.emit(
                    EventType.TOOL_RESULT,
                    id=call.id,
                    name=call.name,
                    status=recorded["status"],
                    recorded=True,
                    same=comparison.same,
                )
            self.report.calls.append(comparison)

    def _rerun(self, call: ToolCall) -> bool:
        # Nothing that needs the user's confirmation runs again without asking.
        entry = self.catalog.get(call.name)
        return entry is not None and entry.effect is Effect.READ and not entry.requires_confirmation

    def _not_rerun(self, call: ToolCall, recorded: dict[str, Any]) -> CallComparison:
        entry = self.catalog.get(call.name)
        base = CallComparison(self.report.rounds, call.id, call.name, False, True, recorded)
        if entry is None:
            base.note = self.catalog.refusal(call.name)
            base.same = recorded["status"] == "refused"
            return base
        base.note = "not run again (a write, or needs confirmation); its arguments were checked"
        if recorded["status"] != "ok":
            return base
        try:
            raw = (
                call.arguments
                if isinstance(call.arguments, dict)
                else json.loads(call.arguments or "{}")
            )
            entry.tool.validate_arguments(raw if isinstance(raw, dict) else {})
        except (ValueError, ToolArgumentError) as exc:
            base.same = False
            base.note = f"the recorded arguments are no longer valid: {exc}"
        return base


def replay_execution(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    execution_id: str,
    *,
    sink: EventSink = discard,
) -> ReplayReport:
    """Replay chat execution ``execution_id`` of ``tenant`` (see the module doc)."""
    execution, steps = _load(db, tenant, execution_id)
    return _Replay(db, registry, tenant, execution, steps, sink).run()
