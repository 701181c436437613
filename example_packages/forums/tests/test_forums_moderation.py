"""Moderation: only admins lock threads and hide posts; locked and hidden mean what they say."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_host.testing.plugin import TenantHarness
from fleetprompt_sdk import PermissionDeniedError

pytestmark = pytest.mark.fleetprompt(install=["forums"])

HIDDEN = "[hidden by a moderator]"


@pytest.fixture
def admin(fp_tenant: TenantHarness) -> str:
    """A moderator: an admin of the tenant."""
    return fp_tenant.as_user("ada", "admin")


@pytest.fixture
def thread(fp_tenant: TenantHarness) -> str:
    """A thread with a first post and one spam reply."""
    outcome = fp_tenant.call_tool(
        "create_thread", {"title": "Best editor?", "body": "Asking for a friend."}
    )
    assert outcome.directive is not None
    key: str = outcome.directive["result"]["key"]
    fp_tenant.call_tool("reply", {"thread": key, "body": "Buy cheap pills at spam.example"})
    return key


def moderate(fp_tenant: TenantHarness, tool: str, arguments: dict[str, Any], actor: str) -> Any:
    """Call a moderation tool as ``actor``; return the directive as the tool reported it."""
    outcome = fp_tenant.call_tool(tool, arguments, actor=actor)
    assert outcome.directive is not None, outcome.error
    return outcome.directive


def directive_ids(fp_tenant: TenantHarness) -> list[str]:
    """Return the ids of the tenant's forums directives."""
    return [d.id for d in fp_tenant.directives() if d.type.startswith("forums.")]


@pytest.mark.parametrize(
    ("tool", "directive", "arguments"),
    [
        ("lock_thread", "forums.thread.lock", {"thread": "welcome", "reason": "off topic"}),
        ("hide_post", "forums.post.hide", {"post": "welcome-1", "reason": "spam"}),
    ],
)
def test_members_cannot_moderate_and_nothing_is_requested(
    fp_tenant: TenantHarness, tool: str, directive: str, arguments: dict[str, Any]
) -> None:
    bo = fp_tenant.as_user("bo", "member")
    assert f"forums__{tool}" not in fp_tenant.tools(bo)
    outcome = fp_tenant.call_tool(tool, arguments, actor=bo)
    assert outcome.error is not None and outcome.error["code"] == "tool-not-available"
    with pytest.raises(PermissionDeniedError):
        fp_tenant.request_directive(directive, arguments, actor=bo)
    assert directive_ids(fp_tenant) == []
    welcome = {r.key: r.data for r in fp_tenant.records("threads")}["welcome"]
    assert welcome["locked"] is False


def test_a_locked_thread_takes_no_replies(
    fp_tenant: TenantHarness, thread: str, admin: str
) -> None:
    moderate(fp_tenant, "lock_thread", {"thread": thread, "reason": "settled"}, admin)
    locked = {r.key: r.data for r in fp_tenant.records("threads")}[thread]
    assert (locked["locked"], locked["lock_reason"]) == (True, "settled")
    (signal,) = fp_tenant.signals("forums.thread.locked")
    assert signal.data == {"key": thread, "reason": "settled", "by": "user:ada"}
    outcome = fp_tenant.call_tool("reply", {"thread": thread, "body": "One more thing"})
    assert outcome.error is not None and outcome.error["code"] == "thread-locked"


def test_a_reply_requested_before_the_lock_fails_when_it_runs(
    fp_tenant: TenantHarness, thread: str, admin: str
) -> None:
    late = fp_tenant.host.call_tool(
        fp_tenant.slug,
        "forums__reply",
        {"thread": thread, "body": "One more thing"},
        run_inline=False,
    )
    assert late.directive is not None and late.directive["status"] == "requested"
    moderate(fp_tenant, "lock_thread", {"thread": thread, "reason": "settled"}, admin)

    fp_tenant.run_until_idle()

    done = {d.id: d for d in fp_tenant.directives("forums.post.create")}[late.directive["id"]]
    assert done.status == "failed"
    assert done.error is not None and done.error["code"] == "thread-locked"
    posts = fp_tenant.call_tool("get_thread", {"key": thread}).output["posts"]
    assert [p["number"] for p in posts] == [1, 2]
    numbers = [s.data["number"] for s in fp_tenant.signals("forums.post.created")]
    assert numbers == [1, 2]


def test_a_hidden_post_keeps_its_place_but_not_its_body(
    fp_tenant: TenantHarness, thread: str, admin: str
) -> None:
    posts = fp_tenant.call_tool("get_thread", {"key": thread}).output["posts"]
    spam = posts[1]["key"]
    moderate(fp_tenant, "hide_post", {"post": spam, "reason": "spam"}, admin)
    shown = fp_tenant.call_tool("get_thread", {"key": thread}).output["posts"]
    assert [p["number"] for p in shown] == [1, 2]
    assert shown[1]["body"] == HIDDEN
    assert "hidden_reason" not in shown[1]
    assert fp_tenant.call_tool("search_posts", {"query": "pills"}).output == []
    (hidden,) = fp_tenant.signals("forums.post.hidden")
    assert str(hidden.subject) == f"post:{spam}"
    stored = {r.key: r.data for r in fp_tenant.records("posts")}[spam]
    assert (stored["hidden"], stored["hidden_reason"]) == (True, "spam")


def test_moderating_twice_changes_nothing_the_second_time(
    fp_tenant: TenantHarness, thread: str, admin: str
) -> None:
    for _ in range(2):
        moderate(fp_tenant, "lock_thread", {"thread": thread, "reason": "settled"}, admin)
    results = [d.result for d in fp_tenant.directives("forums.thread.lock")]
    assert results == [{"thread": thread, "changed": True}, {"thread": thread, "changed": False}]
    assert len(fp_tenant.signals("forums.thread.locked")) == 1
