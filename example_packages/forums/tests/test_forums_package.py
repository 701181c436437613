"""The forums distribution: valid, in step with its code, and a read-only helper agent."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from fleetprompt_host.discovery import discover
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.testing.llm_script import ToolCallScript, text_reply, tool_calls_reply
from fleetprompt_host.testing.llm_server import ScriptedLLMServer
from fleetprompt_host.testing.plugin import TenantHarness

PACKAGE_DIR = Path(__file__).resolve().parents[1]
READ_TOOLS = ["forums__get_thread", "forums__list_threads", "forums__search_posts"]

pytestmark = pytest.mark.fleetprompt(install=["forums"])


@pytest.fixture(scope="module")
def registry() -> PackageRegistry:
    """The packages installed in this environment, as the host discovers them."""
    return discover(enabled=None)


def test_marketplace_validation_with_code_finds_nothing_to_report() -> None:
    command = [sys.executable, "-m", "fleetprompt_host", "validate", "--with-code", "--strict"]
    done = subprocess.run(
        [*command, "--json", str(PACKAGE_DIR)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert (result["name"], result["valid"], result["problems"]) == ("forums", True, [])


def test_the_host_discovers_the_installed_distribution_at_the_manifest_version(
    registry: PackageRegistry,
) -> None:
    forums = registry.get("forums")
    assert forums.distribution == "fleetprompt-forums"
    assert forums.version == forums.distribution_version == version("fleetprompt-forums")


def test_moderation_directives_need_an_admin(registry: PackageRegistry) -> None:
    roles = {d.type: d.required_role.value for d in registry.get("forums").manifest.directives}
    assert roles == {
        "forums.thread.create": "member",
        "forums.post.create": "member",
        "forums.thread.lock": "admin",
        "forums.post.hide": "admin",
    }


def test_the_provisioned_forum_helper_offers_exactly_the_read_tools(
    fp_tenant: TenantHarness,
) -> None:
    (profile,) = fp_tenant.records("_agents")
    assert (profile.key, profile.provisioned) == ("forum_helper", True)
    assert fp_tenant.host.tools(fp_tenant.slug, agent="forums/forum_helper") == READ_TOOLS
    assert len(fp_tenant.tools()) == 7


def test_forum_helper_answers_from_forum_content_and_cannot_write(
    fp_tenant: TenantHarness, fp_llm: ScriptedLLMServer
) -> None:
    started = fp_tenant.call_tool(
        "create_thread", {"title": "How do I reset my password?", "body": "Clear your cookies."}
    )
    assert started.directive is not None and started.directive["status"] == "succeeded"
    fp_llm.script(
        tool_calls_reply(
            ToolCallScript("forums__search_posts", {"query": "cookies"}),
            ToolCallScript("forums__create_thread", {"title": "Sneaky", "body": "Not allowed"}),
        ),
        text_reply("Clear your cookies, says 'How do I reset my password?'."),
    )

    result = fp_tenant.chat("How do I reset my password?", fp_llm, agent="forum_helper")

    assert result.ok, result.error
    assert result.text.startswith("Clear your cookies")
    first, second = fp_llm.requests
    assert sorted(first.tool_names) == READ_TOOLS
    assert "You answer questions using this organisation's forum" in json.dumps(first.messages)
    found, refused = [m for m in second.messages if m["role"] == "tool"]
    assert "Clear your cookies." in found["content"]
    assert "tool-not-available" in refused["content"]
    assert len(fp_tenant.directives("forums.thread.create")) == 1
