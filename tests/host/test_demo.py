"""``fleetprompt demo``: the README's main job, end to end on the embedded default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleetprompt_host.demo import DEMO_SECRET
from fleetprompt_host.host import Host
from fleetprompt_host.testing.llm_script import text_reply
from fleetprompt_host.testing.llm_server import ScriptedLLMServer


def run_demo(home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETPROMPT_")}
    env.update(FLEETPROMPT_HOME=str(home), LITELLM_LOCAL_MODEL_COST_MAP="True")
    return subprocess.run(
        [sys.executable, "-m", "fleetprompt_host", "demo", *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_the_demo_runs_the_core_loop_and_can_be_run_again(home: Path) -> None:
    first = run_demo(home)

    assert first.returncode == 0, first.stderr
    assert "helpdesk: installed" in first.stdout
    assert "crm.contact.created" in first.stdout  # the audit timeline was printed
    with Host(f"sqlite:///{home / 'fleetprompt.sqlite'}") as host:
        types = [s.type for s in host.signals("acme")]
        assert "crm.contact.created" in types
        assert "helpdesk.ticket.created" in types  # the handler ran on the fan-out
        assert len(host.records("acme", "crm", "contacts")) == 1
        assert len(host.records("acme", "helpdesk", "tickets")) == 1

    second = run_demo(home)

    assert second.returncode == 0, second.stderr
    assert "Ada is a contact already" in second.stdout
    with Host(f"sqlite:///{home / 'fleetprompt.sqlite'}") as host:
        assert len(host.records("acme", "crm", "contacts")) == 1


def test_the_demo_secret_is_never_shown_nor_stored_in_clear(home: Path) -> None:
    done = run_demo(home)

    assert done.returncode == 0, done.stderr
    assert DEMO_SECRET not in done.stdout + done.stderr
    for path in home.rglob("*"):
        if path.is_file():
            assert DEMO_SECRET.encode() not in path.read_bytes(), path


def test_the_demo_adds_a_chat_turn_when_a_model_is_given(home: Path) -> None:
    with ScriptedLLMServer() as server:
        server.script(text_reply("You have one contact: Ada Lovelace."))
        done = run_demo(home, "--model", "openai/scripted", "--api-base", server.base_url)

    assert done.returncode == 0, done.stderr
    assert "assistant: You have one contact: Ada Lovelace." in done.stdout
    assert "crm__search_contacts" in server.requests[0].tool_names
