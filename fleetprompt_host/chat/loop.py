"""The chat loop: one user message in, model rounds and tool calls, one answer out.

A turn:

1. opens (or continues) the conversation, builds the tenant's tool list for the actor and
   agent profile, stores the user message and the ``running`` execution — one
   transaction;
2. calls the model with the system prompt, the history and the tools, streaming text to
   the caller as it arrives (``chunk`` events);
3. runs the tool calls of the reply through the one dispatch path (reads concurrently),
   appends the results and calls the model again — until it answers without calling a
   tool, or the round limit is hit (an ``error`` event that says so, never a silent stop);
4. stores each round's messages and execution steps (every model call and every tool
   call is a step) in one transaction per round, and finishes the execution.

Budgets are checked before every model call. Every event goes to the caller's sink; the
vocabulary is in :mod:`.events`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.tools.catalog import ToolCatalog, build_catalog
from fleetprompt_host.tools.confirmation import ConfirmationPolicy, ConfirmationRequest
from fleetprompt_host.tools.dispatch import DispatchScope, ToolCall, ToolDispatcher
from fleetprompt_host.tools.steps import ExecutionRecorder
from fleetprompt_sdk.errors import ConfigError, FleetPromptError
from fleetprompt_sdk.models import Actor

from .budget import Budget, BudgetExhaustedError, ChatLimits, Usage, usage_today
from .events import ChatEvent, EventSink, EventType, discard
from .model import ModelClient, ModelError, ModelReply
from .prompt import system_prompt
from .store import Conversation, open_conversation

if TYPE_CHECKING:
    from fleetprompt_host.registry import PackageRegistry
    from fleetprompt_host.storage import Database

#: Builds the model client once the model name is known (the agent profile may choose it).
ClientFactory = Callable[[str], ModelClient]
MODEL_ENV = "FLEETPROMPT_MODEL"


@dataclass
class TurnResult:
    """How a turn ended."""

    conversation_id: str
    execution_id: str
    text: str
    rounds: int
    stop_reason: str
    usage: Usage = field(default_factory=Usage)
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the model finished its answer."""
        return self.stop_reason == "stop"


def resolve_model(explicit: str | None, catalog: ToolCatalog, environ: dict[str, str]) -> str:
    """Return the model: ``--model``, else the agent profile's, else ``FLEETPROMPT_MODEL``."""
    profile_model = catalog.agent.profile.model if catalog.agent is not None else None
    model = explicit or profile_model or environ.get(MODEL_ENV, "").strip()
    if not model:
        raise ConfigError(
            f"no model configured: pass --model, set {MODEL_ENV}, or use an agent profile "
            "that names one",
            code="model-not-configured",
        )
    return model


class ChatSession:
    """Turns of one conversation for one actor in one tenant (see the module doc)."""

    def __init__(
        self,
        db: Database,
        registry: PackageRegistry,
        tenant: str,
        actor: Actor | str,
        client_factory: ClientFactory,
        *,
        model: str | None = None,
        agent: str | None = None,
        limits: ChatLimits | None = None,
        policy: ConfirmationPolicy | None = None,
        run_inline: bool = True,
        conversation_id: str | None = None,
        sink: EventSink = discard,
        environ: dict[str, str] | None = None,
    ) -> None:
        import os

        self.db = db
        self.registry = registry
        self.tenant = tenant
        self.actor = actor if isinstance(actor, Actor) else Actor.parse(actor)
        self.client_factory = client_factory
        self.model = model
        self.agent = agent
        self.limits = limits or ChatLimits()
        self.policy = policy or ConfirmationPolicy()
        self.run_inline = run_inline
        self.conversation_id = conversation_id
        self.sink = sink
        self.environ = dict(os.environ if environ is None else environ)
        self._clients: dict[str, ModelClient] = {}

    def emit(self, kind: EventType, **data: Any) -> None:
        """Send one event to the sink."""
        self.sink(ChatEvent(kind, data))

    def client(self, model: str) -> ModelClient:
        """Return the model client for ``model`` (built once per session)."""
        if model not in self._clients:
            self._clients[model] = self.client_factory(model)
        return self._clients[model]

    # -- one turn --------------------------------------------------------------------
    def send(self, message: str) -> TurnResult:
        """Run one turn for ``message``; never raises for model or tool failures."""
        recorder = ExecutionRecorder(self.db, self.tenant, "chat", actor=str(self.actor))
        with self.db.tenant_session(self.tenant) as session:
            catalog = build_catalog(
                session, self.registry, self.tenant, self.actor, agent=self.agent
            )
            model = resolve_model(self.model, catalog, self.environ)
            daily = self.limits.daily_tokens is not None or self.limits.daily_cost is not None
            today = usage_today(session) if daily else Usage()
            conversation = open_conversation(
                session,
                self.conversation_id,
                actor=str(self.actor),
                agent=catalog.agent.name if catalog.agent else None,
                first_message=message,
            )
            recorder.log.summary.update(
                conversation_id=conversation.id,
                model=model,
                agent=catalog.agent.name if catalog.agent else None,
            )
            recorder.flush(session)
            user = {"role": "user", "content": message}
            history = conversation.history
            conversation.append(session, [user], recorder.id)
        self.conversation_id = conversation.id
        turn = _Turn(self, catalog, model, recorder, Budget(self.limits, today), conversation)
        self.emit(
            EventType.START,
            conversation_id=conversation.id,
            execution_id=recorder.id,
            correlation_id=recorder.correlation_id,
            model=model,
            agent=catalog.agent.name if catalog.agent else None,
        )
        messages = [{"role": "system", "content": system_prompt(catalog)}, *history, user]
        return turn.run(messages)


class _Turn:
    """The state of one turn in progress."""

    def __init__(
        self,
        chat: ChatSession,
        catalog: ToolCatalog,
        model: str,
        recorder: ExecutionRecorder,
        budget: Budget,
        conversation: Conversation,
    ) -> None:
        self.chat = chat
        self.conversation = conversation
        self.catalog = catalog
        self.model = model
        self.recorder = recorder
        self.budget = budget
        self.tools = catalog.openai_tools()
        self.sent = 0
        self.rounds = 0
        self.usage = Usage()
        scope = DispatchScope(
            db=chat.db,
            registry=chat.registry,
            tenant=chat.tenant,
            actor=chat.actor,
            catalog=catalog,
            execution_id=recorder.id,
            correlation_id=recorder.correlation_id,
            policy=chat.policy,
            run_inline=chat.run_inline,
            on_confirmation=self._confirmation,
            on_start=self._tool_start,
        )
        self.dispatcher = ToolDispatcher(scope, recorder)

    def _confirmation(self, request: ConfirmationRequest) -> None:
        self.chat.emit(EventType.CONFIRMATION_REQUIRED, **request.to_event())

    def _tool_start(self, call: ToolCall) -> None:
        self.chat.emit(EventType.TOOL_START, id=call.id, name=call.name)

    def run(self, messages: list[dict[str, Any]]) -> TurnResult:
        status, text, error = "failed", "", None
        pending: list[dict[str, Any]] = []
        try:
            text, stop, error, pending = self._rounds(messages)
            status = "succeeded" if stop == "stop" else "failed"
        except BaseException as exc:
            # Interrupted (Ctrl-C) or a host failure: record it, then let it propagate.
            stop = "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"
            self._finish("canceled" if stop == "interrupted" else "failed", stop, pending)
            raise
        self._finish(status, stop, pending)
        result = TurnResult(
            self.chat.conversation_id or "",
            self.recorder.id,
            text,
            self.rounds,
            stop,
            self.usage,
            error,
        )
        if error is not None:
            self.chat.emit(EventType.ERROR, **error)
        else:
            self.chat.emit(
                EventType.COMPLETE,
                text=text,
                rounds=self.rounds,
                stop_reason=stop,
                conversation_id=result.conversation_id,
                execution_id=self.recorder.id,
                usage=self._usage(),
            )
        return result

    def _usage(self) -> dict[str, Any]:
        return {"tokens": self.usage.tokens, "cost": round(self.usage.cost, 6)}

    def _rounds(
        self, messages: list[dict[str, Any]]
    ) -> tuple[str, str, dict[str, Any] | None, list[dict[str, Any]]]:
        limit = self.chat.limits.max_rounds
        while self.rounds < limit:
            try:
                self.budget.check()
            except BudgetExhaustedError as exc:
                return "", "budget", _error(exc, retryable=False), []
            self.rounds += 1
            reply = self._call_model(messages)
            if isinstance(reply, dict):
                return "", "error", reply, []
            assistant = reply.to_message()
            messages.append(assistant)
            if not reply.tool_calls:
                return reply.text, "stop", None, [assistant]
            round_messages = [assistant, *self._run_tools(reply)]
            messages.extend(round_messages[1:])
            self._flush(round_messages)
        message = (
            f"stopped after {limit} rounds: the model kept calling tools without answering; "
            "ask again to continue, or raise the round limit (--max-rounds)"
        )
        error = {"code": "round-limit-reached", "message": message, "retryable": False}
        return "", "round-limit", error, []

    def _call_model(self, messages: list[dict[str, Any]]) -> ModelReply | dict[str, Any]:
        round_no = self.rounds
        chat = self.chat
        # The first call records every message sent; later calls only those added since
        # the previous call (the conversation is rebuilt by concatenation, not repeated).
        step_input: dict[str, Any] = {
            "model": self.model,
            "round": round_no,
            "messages": messages[self.sent :],
            "message_count": len(messages),
            "tools": self.catalog.fingerprints(),
        }
        self.sent = len(messages)
        if round_no == 1:
            step_input["tools_offered"] = self.tools

        def on_text(text: str) -> None:
            chat.emit(EventType.CHUNK, text=text, round=round_no)

        started, started_at = time.perf_counter(), utcnow()
        try:
            reply = chat.client(self.model).complete(messages, self.tools, on_text)
        except ModelError as exc:
            error = _error(exc, retryable=exc.retryable)
            self.recorder.add(
                "llm_call",
                self.model,
                input=step_input,
                error=error,
                started_at=started_at,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            return error
        tokens = reply.prompt_tokens + reply.completion_tokens
        self.budget.spend(tokens, reply.cost)
        self.usage.add(tokens, reply.cost)
        self.recorder.add(
            "llm_call",
            self.model,
            input=step_input,
            output=reply.to_record(),
            started_at=started_at,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            tokens_in=reply.prompt_tokens,
            tokens_out=reply.completion_tokens,
            cost=reply.cost,
        )
        return reply

    def _run_tools(self, reply: ModelReply) -> list[dict[str, Any]]:
        calls = [ToolCall(c.id, c.name, c.arguments) for c in reply.tool_calls]
        self.chat.emit(
            EventType.TOOL_CALLS,
            round=self.rounds,
            calls=[{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls],
        )
        results = self.dispatcher.call_many(calls)
        out = []
        for result in results:
            self.chat.emit(EventType.TOOL_RESULT, **result.to_event())
            out.append(
                {"role": "tool", "tool_call_id": result.call_id, "content": result.for_model()}
            )
        return out

    def _flush(self, messages: list[dict[str, Any]]) -> None:
        chat = self.chat
        with chat.db.tenant_session(chat.tenant) as session:
            self.recorder.flush(session)
            self.conversation.append(session, messages, self.recorder.id)

    def _finish(self, status: str, stop: str, messages: list[dict[str, Any]]) -> None:
        chat = self.chat
        with chat.db.tenant_session(chat.tenant) as session:
            self.conversation.append(session, messages, self.recorder.id)
            self.conversation.touch(session)
            self.recorder.finish(
                status,
                session,
                rounds=self.rounds,
                stop_reason=stop,
                tokens=self.usage.tokens,
                cost=round(self.usage.cost, 6),
            )


def _error(exc: FleetPromptError, *, retryable: bool) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "retryable": retryable}
