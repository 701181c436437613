"""Replaying a recorded chat turn with no network: today's tools against recorded replies."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import func, select

from fleetprompt_host.chat.events import EventLog
from fleetprompt_host.chat.replay import replay_execution
from fleetprompt_host.chat.schema_diff import describe_change
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import DirectiveRow, ExecutionRow, MessageRow
from fleetprompt_host.testing.llm_server import (
    ScriptedLLMServer,
    ToolCallScript,
    text_reply,
    tool_calls_reply,
)
from fleetprompt_host.tools.runtime import call_tool
from fleetprompt_sdk.errors import InvalidInputError, NotFoundError

pytestmark = [
    pytest.mark.usefixtures("tenant"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm.*"),
]


def _count(db: Database, model: Any) -> int:
    with db.tenant_session("acme", readonly=True) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def recorded(
    chat: Any, llm_server: ScriptedLLMServer, db: Database, registry: PackageRegistry
) -> str:
    """A recorded turn: search (read), add a note (write), answer. The server is stopped."""
    call_tool(db, registry, "acme", "user:alice", "notes__add_note", {"title": "Budget"})
    llm_server.script(
        tool_calls_reply(ToolCallScript("notes__search", {"query": "budget"}, id="s1")),
        tool_calls_reply(ToolCallScript("notes__add_note", {"title": "Offsite"}, id="a1")),
        text_reply("Found the budget note and added Offsite."),
    )
    session, _ = chat()
    result = session.send("find the budget note, then add an Offsite note")
    assert result.ok
    llm_server.stop()
    return result.execution_id


def test_replay_reproduces_a_recorded_run_with_the_server_stopped(
    recorded: str, db: Database, registry: PackageRegistry, llm_server: ScriptedLLMServer
) -> None:
    before = {m: _count(db, m) for m in (ExecutionRow, DirectiveRow, MessageRow)}
    events = EventLog()

    report = replay_execution(db, registry, "acme", recorded, sink=events)

    assert not llm_server.running
    assert report.matches, report.to_json()
    assert report.rounds == 3
    assert report.text == "Found the budget note and added Offsite."
    search, add = report.calls
    assert (search.name, search.replayed, search.same) == ("notes__search", True, True)
    assert (add.name, add.replayed, add.same) == ("notes__add_note", False, True)
    assert {m: _count(db, m) for m in before} == before
    assert events.types == [
        "start",
        "tool_calls",
        "tool_start",
        "tool_result",
        "tool_calls",
        "tool_result",
        "chunk",
        "complete",
    ]


def test_replay_reports_a_read_tool_whose_result_changed(
    recorded: str, db: Database, registry: PackageRegistry
) -> None:
    call_tool(db, registry, "acme", "user:alice", "notes__add_note", {"title": "Budget 2026"})

    report = replay_execution(db, registry, "acme", recorded)

    assert not report.matches and report.differences == 1
    (search,) = [c for c in report.calls if not c.same]
    assert search.name == "notes__search"
    assert [n["title"] for n in search.recorded["result"]] == ["Budget"]
    assert search.today is not None
    assert sorted(n["title"] for n in search.today["result"]) == ["Budget", "Budget 2026"]


def test_replay_reports_tools_added_and_removed_since_the_recording(
    recorded: str, db: Database, registry: PackageRegistry, notes_pkg: ModuleType
) -> None:
    notes_pkg.install(db, "acme", "memo")
    notes_pkg.install(db, "acme", "notes", status="disabled")

    report = replay_execution(db, registry, "acme", recorded)

    changes = {(c.name, c.change) for c in report.schema_changes}
    assert ("memo__search", "added") in changes
    assert ("notes__search", "removed") in changes
    assert report.prompt_changed
    assert all(not c.same for c in report.calls)
    assert "package 'notes' is disabled here" in report.calls[1].note


def test_a_changed_tool_contract_is_described() -> None:
    before = {
        "function": {
            "name": "x__t",
            "description": "Old.",
            "parameters": {"properties": {"q": {"type": "string"}}, "required": ["q"]},
        }
    }
    after = {
        "function": {
            "name": "x__t",
            "description": "New.",
            "parameters": {
                "properties": {"q": {"type": "integer"}, "limit": {"type": "integer"}},
                "required": ["q", "limit"],
            },
        }
    }

    assert describe_change(before, after) == (
        "description changed; parameters added: limit; parameters changed: q; "
        "required ['q'] -> ['limit', 'q']"
    )


def test_only_chat_executions_can_be_replayed(db: Database, registry: PackageRegistry) -> None:
    outcome = call_tool(db, registry, "acme", "user:alice", "notes__whoami", {})

    with pytest.raises(InvalidInputError) as info:
        replay_execution(db, registry, "acme", outcome.execution_id)
    assert info.value.code == "not-a-chat-execution"
    with pytest.raises(NotFoundError):
        replay_execution(db, registry, "acme", "no-such-execution")
