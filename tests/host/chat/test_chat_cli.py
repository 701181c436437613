"""The chat, tools and replay commands with the example packages, as a user runs them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fleetprompt_host.testing.cli import Cli
from fleetprompt_host.testing.llm_server import (
    ScriptedLLMServer,
    ToolCallScript,
    text_reply,
    tool_calls_reply,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm.*")


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str],
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    """``fleetprompt`` as alice, with tenant acme and the crm and helpdesk packages."""
    monkeypatch.setenv("FLEETPROMPT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "user:alice")
    monkeypatch.delenv("FLEETPROMPT_PACKAGES", raising=False)
    monkeypatch.delenv("FLEETPROMPT_MODEL", raising=False)
    run = Cli(capsys, db_url)
    assert run("tenants", "create", "acme").code == 0
    for package in ("crm", "helpdesk"):
        installed = run("install", package, "--tenant", "acme", "--wait")
        assert installed.code == 0, installed.err
    return run


def _chat(cli: Cli, server: ScriptedLLMServer, *args: str) -> object:
    return cli(
        "chat", "--tenant", "acme", "--model", "scripted", "--api-base", server.base_url, *args
    )


def _create_ada(cli: Cli) -> str:
    created = cli(
        "tools",
        "call",
        "crm__create_contact",
        "--tenant",
        "acme",
        "--args",
        '{"name": "Ada Lovelace", "email": "ada@example.com"}',
        "--json",
    )
    assert created.code == 0, created.err
    return str(created.json()["directive"]["result"]["key"])


def test_tools_list_shows_the_tenants_tools_as_json(cli: Cli) -> None:
    listed = cli("tools", "list", "--tenant", "acme", "--json")

    tools = {t["name"]: t for t in listed.json()}
    assert listed.code == 0
    assert {"crm__search_contacts", "helpdesk__create_ticket"} <= set(tools)
    assert tools["helpdesk__bulk_close_tickets"]["requires_confirmation"] is True
    assert tools["helpdesk__bulk_close_tickets"]["required_role"] == "admin"
    as_agent = cli("tools", "list", "--tenant", "acme", "--agent", "sales_assistant", "--json")
    assert {t["package"] for t in as_agent.json()} == {"crm"}


def test_tools_call_runs_a_write_tool_and_reports_bad_arguments_on_one_line(cli: Cli) -> None:
    key = _create_ada(cli)

    found = cli(
        "tools", "call", "crm__get_contact", "--tenant", "acme", "--args", json.dumps({"key": key})
    )
    bad = cli(
        "tools", "call", "crm__search_contacts", "--tenant", "acme", "--args", '{"query": ""}'
    )

    assert found.code == 0 and json.loads(found.out)["email"] == "ada@example.com"
    assert bad.code == 1
    assert bad.err.splitlines()[0].startswith("error: invalid arguments for tool")
    assert "[tool-arguments-invalid]" in bad.err


def test_a_confirmation_tool_is_refused_without_a_terminal_and_runs_with_yes(cli: Cli) -> None:
    ticket = cli(
        "tools",
        "call",
        "helpdesk__create_ticket",
        "--tenant",
        "acme",
        "--json",
        "--args",
        '{"title": "Printer on fire"}',
    )
    key = ticket.json()["directive"]["result"]["key"]
    closing = json.dumps({"keys": [key], "reason": "duplicate"})
    args = ["--tenant", "acme", "--args", closing]

    refused = cli("tools", "call", "helpdesk__bulk_close_tickets", *args)
    allowed = cli("tools", "call", "helpdesk__bulk_close_tickets", *args, "--yes", "--json")

    assert refused.code == 1
    assert "[confirmation-required]" in refused.err
    assert allowed.code == 0, allowed.err
    assert allowed.json()["directive"]["type"] == "helpdesk.tickets.bulk_close"


def test_chat_reads_changes_and_the_story_is_in_audit_and_replays_offline(
    cli: Cli, llm_server: ScriptedLLMServer
) -> None:
    key = _create_ada(cli)
    llm_server.script(
        tool_calls_reply(ToolCallScript("crm__search_contacts", {"query": "ada"})),
        text_reply("Ada Lovelace is a lead."),
        tool_calls_reply(ToolCallScript("crm__update_contact", {"key": key, "stage": "qualified"})),
        text_reply("Ada is now qualified."),
    )

    read = _chat(cli, llm_server, "-m", "find Ada")
    conversation = read.err.strip().splitlines()[-1].split()[-1]
    change = _chat(
        cli, llm_server, "--json-events", "--conversation", conversation, "-m", "qualify her"
    )

    assert read.code == 0 and read.out.strip() == "Ada Lovelace is a lead."
    assert "-> crm__search_contacts" in read.err
    events = [json.loads(line) for line in change.out.splitlines()]
    assert events[0]["event"] == "start" and events[-1]["event"] == "complete"
    (result,) = [e for e in events if e["event"] == "tool_result"]
    assert result["directive"]["status"] == "succeeded"
    assert len(llm_server.requests[2].messages) == 6  # system + the first turn + the new message
    execution = events[0]["execution_id"]
    audit = cli("audit", "--tenant", "acme", "--correlation", execution)
    assert "crm.contact.updated" in audit.out
    assert "directive.succeeded" in audit.out

    llm_server.stop()
    replayed = cli("executions", "replay", execution, "--tenant", "acme")
    as_json = cli("executions", "replay", execution, "--tenant", "acme", "--json")

    assert replayed.code == 0, replayed.out + replayed.err
    assert "no differences" in replayed.out
    assert as_json.json()["matches"] is True


def test_chat_without_a_model_says_how_to_configure_one(cli: Cli) -> None:
    result = cli("chat", "--tenant", "acme", "-m", "hello")

    assert result.code == 2
    assert "no model configured" in result.err and "[model-not-configured]" in result.err


def test_the_repl_reads_messages_until_exit(
    cli: Cli, llm_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    llm_server.script(text_reply("first answer"), text_reply("second answer"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("hello\n\nagain\n/exit\nnever sent\n"))

    result = _chat(cli, llm_server)

    assert result.code == 0
    assert result.out.splitlines() == ["first answer", "second answer"]
    assert len(llm_server.requests) == 2


PROBE = textwrap.dedent(
    """
    import atexit, sys
    atexit.register(lambda: print("litellm imported:", "litellm" in sys.modules, file=sys.stderr))
    from fleetprompt_host.cli.main import main
    main(sys.argv[1:])
    """
)


@pytest.mark.parametrize(
    "args",
    [
        ["tools", "list", "--tenant", "acme"],
        ["tools", "call", "crm__list_companies", "--tenant", "acme"],
        ["executions", "list", "--tenant", "acme"],
        ["chat", "--help"],
    ],
    ids=["tools-list", "tools-call", "executions-list", "chat-help"],
)
def test_commands_other_than_a_chat_turn_never_import_litellm(
    cli: Cli, db_url: str, args: list[str]
) -> None:
    env = {**os.environ, "FLEETPROMPT_DATABASE_URL": db_url}

    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    assert "litellm imported: False" in done.stderr


class _Terminal(io.StringIO):
    """Typed answers on a stdin that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "status"), [("y", "succeeded"), ("n", None)])
def test_chat_asks_before_a_confirmation_tool_and_honours_the_answer(
    cli: Cli,
    llm_server: ScriptedLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    status: str | None,
) -> None:
    ticket = cli(
        "tools",
        "call",
        "helpdesk__create_ticket",
        "--tenant",
        "acme",
        "--json",
        "--args",
        '{"title": "Printer on fire"}',
    )
    key = ticket.json()["directive"]["result"]["key"]
    llm_server.script(
        tool_calls_reply(
            ToolCallScript("helpdesk__bulk_close_tickets", {"keys": [key], "reason": "fixed"})
        ),
        text_reply("Done."),
    )
    monkeypatch.setattr(sys, "stdin", _Terminal(f"{answer}\n"))

    result = _chat(cli, llm_server, "--json-events", "-m", "close the printer ticket")

    events = [json.loads(line) for line in result.out.splitlines()]
    (asked,) = [e for e in events if e["event"] == "confirmation_required"]
    assert asked["arguments"] == {"keys": [key], "reason": "fixed"}
    assert "Run it?" in result.err and asked["preview"] in result.err
    (outcome,) = [e for e in events if e["event"] == "tool_result"]
    if status is None:
        assert outcome["error"]["code"] == "confirmation-declined"
    else:
        assert outcome["directive"]["status"] == status
        closed = cli("audit", "--tenant", "acme", "--correlation", events[0]["execution_id"])
        assert "helpdesk.tickets.bulk_close" in closed.out
