"""The chat loop through litellm's real HTTP path, against the scripted local server."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import select

from fleetprompt_host.chat.budget import ChatLimits
from fleetprompt_host.chat.events import EventType
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import (
    DirectiveRow,
    ExecutionRow,
    ExecutionStepRow,
    MessageRow,
    RecordRow,
    SignalRow,
)
from fleetprompt_host.testing.llm_server import (
    ScriptedLLMServer,
    ToolCallScript,
    error_reply,
    text_reply,
    tool_calls_reply,
)
from fleetprompt_host.tools.confirmation import ConfirmationPolicy, ConfirmationRequest
from fleetprompt_host.tools.runtime import call_tool

pytestmark = [
    pytest.mark.usefixtures("tenant"),
    # litellm's own use of pydantic, not ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm.*"),
]


def _rows(db: Database, model: Any, tenant: str = "acme") -> list[Any]:
    with db.tenant_session(tenant, readonly=True) as session:
        return list(session.execute(select(model)).scalars())


def _steps(db: Database, execution_id: str) -> list[ExecutionStepRow]:
    return sorted(
        (s for s in _rows(db, ExecutionStepRow) if s.execution_id == execution_id),
        key=lambda s: s.seq,
    )


def _tool_messages(request: Any) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in request.messages if m["role"] == "tool"]


def _call(name: str, arguments: dict[str, Any] | str = "{}", id: str | None = None) -> Any:
    return ToolCallScript(name, arguments, id=id)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_a_read_tool_answers_and_the_text_streams_back(
    chat: Any, llm_server: ScriptedLLMServer, db: Database, registry: Any, stream: bool
) -> None:
    call_tool(db, registry, "acme", "user:alice", "notes__add_note", {"title": "Budget 2025"})
    llm_server.script(
        tool_calls_reply(_call("notes__search", {"query": "budget"})),
        text_reply("You have one note: Budget 2025.", chunk_size=4),
    )
    session, events = chat(stream=stream)

    result = session.send("what notes do I have about the budget?")

    assert result.ok and result.text == "You have one note: Budget 2025."
    assert result.rounds == 2
    first, second = llm_server.requests
    assert first.stream is stream
    assert {"notes__search", "notes__add_note"} <= set(first.tool_names)
    assert first.messages[-1] == {
        "role": "user",
        "content": "what notes do I have about the budget?",
    }
    assert [n["title"] for n in _tool_messages(second)[0]] == ["Budget 2025"]
    assert events.types == ["start", "tool_calls", "tool_start", "tool_result", "chunk", "complete"]
    assert events.text == result.text
    if stream:
        assert len(events.of(EventType.CHUNK)) > 1


def test_the_system_prompt_names_the_packages_and_the_write_rule(
    chat: Any, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(text_reply("hello"))
    session, _ = chat(agent="reader")

    session.send("hi")

    system = llm_server.requests[0].messages[0]
    assert system["role"] == "system"
    assert "notes 1.0.0: Notes" in system["content"]
    assert "You answer questions from the team's notes." in system["content"]
    assert "Use a write tool only when the user asks for a change" in system["content"]
    assert llm_server.requests[0].tool_names == ["notes__search", "notes__whoami"]


def test_a_write_tool_creates_a_directive_that_runs_and_everything_is_recorded(
    chat: Any, llm_server: ScriptedLLMServer, db: Database
) -> None:
    llm_server.script(
        tool_calls_reply(_call("notes__add_note", {"title": "Offsite", "body": "in May"})),
        text_reply("Done: the note is added."),
    )
    session, events = chat()

    result = session.send("add a note called Offsite: in May")

    (directive,) = _rows(db, DirectiveRow)
    assert directive.status == "succeeded"
    assert directive.correlation_id == result.execution_id
    assert [r.data["title"] for r in _rows(db, RecordRow) if r.collection == "notes"] == ["Offsite"]
    signals = [s for s in _rows(db, SignalRow) if s.type == "notes.note.added"]
    assert [s.correlation_id for s in signals] == [result.execution_id]
    (tool_result,) = events.of(EventType.TOOL_RESULT)
    assert tool_result.data["directive"]["status"] == "succeeded"
    assert [(s.kind, s.name) for s in _steps(db, result.execution_id)] == [
        ("llm_call", "scripted"),
        ("tool_call", "notes__add_note"),
        ("llm_call", "scripted"),
    ]
    (execution,) = [e for e in _rows(db, ExecutionRow) if e.id == result.execution_id]
    assert execution.kind == "chat" and execution.status == "succeeded"
    assert execution.summary["conversation_id"] == result.conversation_id
    roles = [m.role for m in sorted(_rows(db, MessageRow), key=lambda m: m.seq)]
    assert roles == ["user", "assistant", "tool", "assistant"]


def test_a_confirmation_tool_is_asked_about_and_refused_when_declined(
    chat: Any, llm_server: ScriptedLLMServer, db: Database
) -> None:
    asked: list[ConfirmationRequest] = []

    def decline(request: ConfirmationRequest) -> bool:
        asked.append(request)
        return False

    llm_server.script(
        tool_calls_reply(_call("notes__purge_notes", {"older_than_days": 3})),
        text_reply("I did not purge anything."),
    )
    session, events = chat(policy=ConfirmationPolicy(decline))

    result = session.send("purge old notes")

    assert result.ok
    assert [a.preview for a in asked] == ["Delete up to 0 notes older than 3 days"]
    (event,) = events.of(EventType.CONFIRMATION_REQUIRED)
    assert event.data["arguments"] == {"older_than_days": 3}
    assert event.data["arguments_hash"] == asked[0].arguments_hash
    assert events.types.index("confirmation_required") < events.types.index("tool_result")
    assert _tool_messages(llm_server.requests[1])[0]["error"]["code"] == "confirmation-declined"
    assert _rows(db, DirectiveRow) == []


def test_invalid_arguments_are_corrected_by_the_model_on_the_next_round(
    chat: Any, llm_server: ScriptedLLMServer, db: Database
) -> None:
    llm_server.script(
        tool_calls_reply(_call("notes__add_note", {"title": ""})),
        tool_calls_reply(_call("notes__add_note", {"title": "Fixed"})),
        text_reply("Added."),
    )
    session, _ = chat()

    result = session.send("add a note")

    assert result.ok and result.rounds == 3
    error = _tool_messages(llm_server.requests[1])[0]["error"]
    assert error["code"] == "tool-arguments-invalid"
    assert [p["path"] for p in error["problems"]] == ["title"]
    assert [r.data["title"] for r in _rows(db, RecordRow) if r.collection == "notes"] == ["Fixed"]


def test_malformed_arguments_and_unknown_tools_become_results_the_turn_goes_on(
    chat: Any, llm_server: ScriptedLLMServer, db: Database
) -> None:
    llm_server.script(
        tool_calls_reply(
            _call("notes__add_note", '{"title": "half'), _call("nope__missing", {"x": 1})
        ),
        text_reply("Sorry, that did not work."),
    )
    session, _ = chat()

    result = session.send("do things")

    assert result.ok
    malformed, unknown = _tool_messages(llm_server.requests[1])
    assert malformed["error"]["code"] == "tool-arguments-invalid"
    assert "not valid JSON" in malformed["error"]["message"]
    assert unknown["error"] == {
        "code": "tool-not-available",
        "message": "no tool named 'nope__missing' is available in this tenant",
    }
    assert _rows(db, DirectiveRow) == []


def test_several_tool_calls_in_one_reply_run_and_reads_run_concurrently(
    chat: Any, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(
        tool_calls_reply(
            _call("notes__rendezvous"), _call("notes__whoami"), _call("notes__rendezvous")
        ),
        text_reply("All three answered."),
    )
    session, events = chat()

    session.send("go")

    results = [
        json.loads(m["content"]) for m in llm_server.requests[1].messages if m["role"] == "tool"
    ]
    assert results[0] == results[2] == "met"
    assert results[1]["tenant"] == "acme"
    (calls,) = events.of(EventType.TOOL_CALLS)
    assert [c["name"] for c in calls.data["calls"]] == [
        "notes__rendezvous",
        "notes__whoami",
        "notes__rendezvous",
    ]


def test_the_round_limit_stops_the_turn_with_a_clear_message(
    chat: Any, llm_server: ScriptedLLMServer, db: Database
) -> None:
    llm_server.script(
        tool_calls_reply(_call("notes__whoami")),
        tool_calls_reply(_call("notes__whoami")),
        tool_calls_reply(_call("notes__whoami")),
    )
    session, events = chat(limits=ChatLimits(max_rounds=2))

    result = session.send("loop forever")

    assert result.stop_reason == "round-limit"
    assert len(llm_server.requests) == 2
    (error,) = events.of(EventType.ERROR)
    assert error.data["code"] == "round-limit-reached"
    assert "stopped after 2 rounds" in error.data["message"]
    assert events.types[-1] == "error"
    (execution,) = _rows(db, ExecutionRow)
    assert execution.status == "failed" and execution.summary["stop_reason"] == "round-limit"


def test_the_daily_token_budget_is_enforced_before_calling_the_model(
    chat: Any, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(text_reply("first answer", usage=(80, 40)))
    session, events = chat(limits=ChatLimits(daily_tokens=100))
    session.send("first")

    result = session.send("second")

    assert len(llm_server.requests) == 1
    assert result.stop_reason == "budget"
    assert events.of(EventType.ERROR)[-1].data["code"] == "daily-token-budget-exhausted"
    assert "used 120 tokens today" in events.of(EventType.ERROR)[-1].data["message"]


def test_the_per_turn_token_limit_stops_before_the_next_round(
    chat: Any, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(tool_calls_reply(_call("notes__whoami"), usage=(50, 20)), text_reply("x"))
    session, events = chat(limits=ChatLimits(max_turn_tokens=60))

    result = session.send("hi")

    assert result.stop_reason == "budget" and len(llm_server.requests) == 1
    assert events.of(EventType.ERROR)[-1].data["code"] == "turn-token-budget-exhausted"


def test_the_daily_cost_budget_counts_priced_calls(
    chat: Any, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(text_reply("one", usage=(1000, 1000)))
    settings = {"price_per_token": (0.001, 0.002)}
    session, events = chat(limits=ChatLimits(daily_cost=2.5), settings=settings)
    session.send("first")

    session.send("second")

    assert len(llm_server.requests) == 1
    assert events.of(EventType.ERROR)[-1].data["code"] == "daily-cost-budget-exhausted"


def test_a_disabled_package_tool_is_not_offered_and_refused_if_called_anyway(
    chat: Any, llm_server: ScriptedLLMServer, db: Database, notes_pkg: ModuleType
) -> None:
    notes_pkg.install(db, "acme", "memo", status="disabled")
    llm_server.script(tool_calls_reply(_call("memo__search", {"query": "x"})), text_reply("cannot"))
    session, _ = chat()

    session.send("search memos")

    assert "memo__search" not in llm_server.requests[0].tool_names
    (refused,) = _tool_messages(llm_server.requests[1])
    assert refused["error"]["code"] == "tool-not-available"
    assert "package 'memo' is disabled here" in refused["error"]["message"]


def test_a_tool_of_another_tenant_can_never_be_reached(
    chat: Any, llm_server: ScriptedLLMServer, db: Database, notes_pkg: ModuleType
) -> None:
    db.create_tenant("globex", actor="user:alice")
    notes_pkg.install(db, "globex", "memo")
    llm_server.script(
        tool_calls_reply(_call("notes__add_note", {"title": "from globex"})), text_reply("no")
    )
    session, _ = chat(tenant_slug="globex")

    session.send("add a note")

    assert not [n for n in llm_server.requests[0].tool_names if n.startswith("notes__")]
    (refused,) = _tool_messages(llm_server.requests[1])
    assert refused["error"]["code"] == "tool-not-available"
    assert _rows(db, DirectiveRow, "acme") == _rows(db, DirectiveRow, "globex") == []


def test_a_rate_limited_call_is_retried(
    chat: Any, llm_server: ScriptedLLMServer, db: Database
) -> None:
    llm_server.script(error_reply(429, headers=(("Retry-After", "0"),)), text_reply("fine"))
    session, _ = chat()

    result = session.send("hi")

    assert result.ok and result.text == "fine"
    assert len(llm_server.requests) == 2
    (step,) = _steps(db, result.execution_id)
    assert step.output is not None and step.output["attempts"] == 2


@pytest.mark.parametrize(
    ("replies", "code", "requests"),
    [
        ([error_reply(401, "invalid api key")], "model-auth", 1),
        ([error_reply(500)] * 3, "model-server", 3),
        ([error_reply(400, "bad request")], "model-bad-request", 1),
    ],
    ids=["auth-not-retried", "server-error-retried-then-reported", "bad-request"],
)
def test_provider_errors_are_reported_clearly(
    chat: Any,
    llm_server: ScriptedLLMServer,
    db: Database,
    replies: list[Any],
    code: str,
    requests: int,
) -> None:
    llm_server.script(*replies)
    session, events = chat(settings={"max_retries": 2})

    result = session.send("hi")

    assert result.stop_reason == "error"
    assert len(llm_server.requests) == requests
    (error,) = events.of(EventType.ERROR)
    assert error.data["code"] == code
    (step,) = _steps(db, result.execution_id)
    assert step.kind == "llm_call" and step.error is not None and step.error["code"] == code


def test_a_slow_model_times_out_with_a_clear_error(
    chat: Any, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(text_reply("late", delay=5))
    session, events = chat(settings={"timeout": 0.3, "max_retries": 0})

    result = session.send("hi")

    assert result.stop_reason == "error"
    assert events.of(EventType.ERROR)[0].data["code"] == "model-timeout"


def test_a_conversation_continues_with_its_earlier_messages(
    chat: Any, llm_server: ScriptedLLMServer, db: Database
) -> None:
    llm_server.script(
        tool_calls_reply(_call("notes__whoami", id="w1")),
        text_reply("You are alice."),
        text_reply("Still alice."),
    )
    first, _ = chat()
    done = first.send("who am I?")
    again, _ = chat(conversation_id=done.conversation_id)

    again.send("and now?")

    sent = llm_server.requests[2].messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert sent[2]["tool_calls"][0]["id"] == "w1"
    assert sent[-1]["content"] == "and now?"


def test_another_users_conversation_cannot_be_continued(
    chat: Any, llm_server: ScriptedLLMServer
) -> None:
    from fleetprompt_sdk.errors import PermissionDeniedError

    llm_server.script(text_reply("hi alice"))
    first, _ = chat()
    done = first.send("hello")
    bobs, _ = chat(actor="user:bob", conversation_id=done.conversation_id)

    with pytest.raises(PermissionDeniedError):
        bobs.send("let me read it")


def test_the_model_comes_from_the_option_then_the_agent_profile_then_the_environment() -> None:
    from fleetprompt_host.chat.loop import resolve_model
    from fleetprompt_host.tools.catalog import AgentRef, ToolCatalog
    from fleetprompt_sdk.errors import ConfigError
    from fleetprompt_sdk.manifest import AgentProfile

    plain = ToolCatalog(tenant="acme", actor="user:alice", role=None, agent=None)
    profile = AgentProfile(name="a", system_prompt="p", model="profile-model")
    with_agent = ToolCatalog(
        tenant="acme", actor="user:alice", role=None, agent=AgentRef("notes", profile)
    )
    env = {"FLEETPROMPT_MODEL": "env-model"}

    assert resolve_model("option-model", with_agent, env) == "option-model"
    assert resolve_model(None, with_agent, env) == "profile-model"
    assert resolve_model(None, plain, env) == "env-model"
    with pytest.raises(ConfigError) as info:
        resolve_model(None, plain, {})
    assert info.value.code == "model-not-configured"


def test_later_model_calls_record_only_the_messages_added_since_the_previous_call(
    chat: Any, llm_server: ScriptedLLMServer, db: Database
) -> None:
    llm_server.script(tool_calls_reply(_call("notes__whoami")), text_reply("done"))
    session, _ = chat()

    result = session.send("who?")

    first, second = [s for s in _steps(db, result.execution_id) if s.kind == "llm_call"]
    assert [m["role"] for m in first.input["messages"]] == ["system", "user"]
    assert [m["role"] for m in second.input["messages"]] == ["assistant", "tool"]
    assert second.input["message_count"] == 4
    assert "tools_offered" in first.input and "tools_offered" not in second.input
