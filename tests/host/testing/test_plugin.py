"""The package authors' pytest plugin: fixtures against a real embedded host."""

from __future__ import annotations

import pytest

CRM_TESTS = """
import pytest
from fleetprompt_sdk import PermissionDeniedError

pytestmark = pytest.mark.fleetprompt(install=["crm"])


def test_tools_write_through_directives_and_signals(fp_tenant):
    assert "crm__search_contacts" in fp_tenant.tools()
    outcome = fp_tenant.call_tool(
        "create_contact", {"name": "Ada Lovelace", "email": "ada@example.com"}
    )
    assert outcome.ok, outcome.error
    assert outcome.directive["status"] == "succeeded"
    [contact] = fp_tenant.records("contacts")
    assert contact.data["email"] == "ada@example.com"
    assert [s.type for s in fp_tenant.signals("crm.contact.*")] == ["crm.contact.created"]


def test_seed_records_are_provisioned(fp_tenant):
    stages = fp_tenant.records("pipeline_stages")
    assert stages and all(s.provisioned for s in stages)


def test_roles_come_from_members(fp_tenant):
    fp_tenant.as_user("bob", "member")
    assert "crm__create_contact" in fp_tenant.tools("user:bob")
    assert fp_tenant.call_tool("search_contacts", {"query": "x"}, actor="user:bob").ok
    with pytest.raises(PermissionDeniedError):
        fp_tenant.call_tool("search_contacts", {"query": "x"}, actor="user:eve")
"""

HELPDESK_TESTS = """
import pytest

pytestmark = pytest.mark.fleetprompt(
    install=["helpdesk"],
    config={
        "helpdesk": {"webhook_url": "http://127.0.0.1:9/hook", "webhook_token": "s3cret-token"}
    },
)


def test_dependencies_are_installed_and_signals_reach_handlers(fp_tenant):
    assert "crm__create_contact" in fp_tenant.tools()
    assert fp_tenant.records("tickets", package="helpdesk") == []
    fp_tenant.call_tool("crm__create_contact", {"name": "Grace", "email": "grace@example.com"})
    fp_tenant.run_until_idle()
    # helpdesk's handler asked for a welcome ticket (its webhook here is unreachable).
    [welcome] = fp_tenant.directives("helpdesk.ticket.create")
    assert welcome.causation_id is not None
    assert "s3cret-token" not in repr(welcome.params)
"""

CHAT_TESTS = """
import pytest
from fleetprompt_host.testing.llm_script import ToolCallScript, text_reply, tool_calls_reply

pytestmark = pytest.mark.fleetprompt(install=["crm"])


def test_a_chat_turn_calls_a_read_tool_through_the_scripted_model(fp_tenant, fp_llm):
    fp_llm.script(
        tool_calls_reply(ToolCallScript("crm__search_contacts", {"query": "ada"})),
        text_reply("No contact called Ada yet."),
    )
    result = fp_tenant.chat("Do we know Ada?", fp_llm)
    assert result.ok, result.error
    assert result.text == "No contact called Ada yet."
    assert "crm__search_contacts" in fp_llm.requests[0].tool_names
"""


@pytest.mark.parametrize(
    ("source", "passed"),
    [(CRM_TESTS, 3), (HELPDESK_TESTS, 1), (CHAT_TESTS, 1)],
    ids=["crm", "helpdesk-with-deps-and-config", "chat"],
)
def test_package_authors_fixtures_run_a_real_host(
    pytester: pytest.Pytester, source: str, passed: int
) -> None:
    pytester.makepyfile(test_package=source)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=passed)


def test_a_failing_assertion_in_an_author_test_is_reported_as_a_failure(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_package="""
import pytest

@pytest.mark.fleetprompt(install=["crm"])
def test_wrong(fp_tenant):
    assert fp_tenant.records("contacts") != []
"""
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(failed=1)


def test_the_ini_option_chooses_the_packages_when_no_marker_does(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nfleetprompt_install = forums\n")
    pytester.makepyfile(
        test_package="""
def test_only_forums(fp_tenant):
    tools = fp_tenant.tools()
    assert tools and all(t.startswith("forums__") for t in tools)
"""
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
