"""The core chat flows on both backends (the rest of the chat tests run on SQLite)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from fleetprompt_host.chat.replay import replay_execution
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import DirectiveRow, ExecutionStepRow, SignalRow
from fleetprompt_host.testing.fixtures import BACKENDS
from fleetprompt_host.testing.llm_server import (
    ScriptedLLMServer,
    ToolCallScript,
    text_reply,
    tool_calls_reply,
)

pytestmark = [
    pytest.mark.usefixtures("tenant"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm.*"),
]


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    """SQLite and PostgreSQL."""
    return str(request.param)


def test_a_turn_reads_writes_records_and_replays_on_each_backend(
    chat: Any, llm_server: ScriptedLLMServer, db: Database, registry: PackageRegistry
) -> None:
    llm_server.script(
        tool_calls_reply(
            ToolCallScript("notes__search", {"query": "budget"}, id="r1"),
            ToolCallScript("notes__add_note", {"title": "Quarterly"}, id="w1"),
        ),
        text_reply("Added Quarterly."),
    )
    session, _ = chat(run_inline=True)

    result = session.send("add a quarterly note")
    llm_server.stop()
    report = replay_execution(db, registry, "acme", result.execution_id)

    assert result.ok
    with db.tenant_session("acme", readonly=True) as s:
        (directive,) = s.execute(select(DirectiveRow)).scalars()
        assert directive.status == "succeeded"
        assert directive.correlation_id == result.execution_id
        kinds = s.execute(
            select(ExecutionStepRow.kind)
            .where(ExecutionStepRow.execution_id == result.execution_id)
            .order_by(ExecutionStepRow.seq)
        ).scalars()
        assert list(kinds) == ["llm_call", "tool_call", "tool_call", "llm_call"]
        types = set(s.execute(select(SignalRow.type)).scalars())
        assert {"notes.note.added", "directive.succeeded"} <= types
    assert report.matches, report.to_json()
    assert [(c.name, c.replayed) for c in report.calls] == [
        ("notes__search", True),
        ("notes__add_note", False),
    ]


def test_a_tool_of_another_tenant_is_unreachable_on_each_backend(
    chat: Any, llm_server: ScriptedLLMServer, db: Database, notes_pkg: Any
) -> None:
    db.create_tenant("globex", actor="user:alice")
    notes_pkg.install(db, "globex", "memo")
    llm_server.script(
        tool_calls_reply(ToolCallScript("notes__add_note", {"title": "x"})), text_reply("no")
    )
    session, _ = chat(tenant_slug="globex")

    session.send("add a note in acme")

    for slug in ("acme", "globex"):
        with db.tenant_session(slug, readonly=True) as s:
            assert list(s.execute(select(DirectiveRow)).scalars()) == []
