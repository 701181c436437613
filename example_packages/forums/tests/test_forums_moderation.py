"""Moderation: only admins lock threads and hide posts; locked and hidden mean what they say."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_sdk import DirectiveStatus, PermissionDeniedError, ToolArgumentError

HIDDEN = "[hidden by a moderator]"


@pytest.fixture
def thread(tenant: Any) -> str:
    """A thread with a first post and one reply."""
    ref = tenant.call_tool(
        "create_thread", {"title": "Best editor?", "body": "Asking for a friend."}
    )
    tenant.settle()
    key: str = tenant.directives[ref.id].result["key"]
    tenant.call_tool("reply", {"thread": key, "body": "Buy cheap pills at spam.example"})
    tenant.settle()
    return key


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("lock_thread", {"thread": "welcome", "reason": "off topic"}),
        ("hide_post", {"post": "welcome-1", "reason": "spam"}),
    ],
)
def test_members_cannot_moderate_and_nothing_is_requested(
    tenant: Any, tool: str, arguments: dict[str, Any]
) -> None:
    with pytest.raises(PermissionDeniedError):
        tenant.call_tool(tool, arguments, role="member")
    assert tenant.directives == {}


def test_a_locked_thread_takes_no_replies(tenant: Any, thread: str) -> None:
    tenant.call_tool("lock_thread", {"thread": thread, "reason": "settled"}, role="admin")
    tenant.settle()
    assert tenant.data("threads")[thread]["locked"] is True
    assert tenant.signals[-1].type == "forums.thread.locked"
    assert tenant.signals[-1].data == {"key": thread, "reason": "settled", "by": "user:alice"}
    with pytest.raises(ToolArgumentError) as err:
        tenant.call_tool("reply", {"thread": thread, "body": "One more thing"})
    assert err.value.code == "thread-locked"


def test_a_reply_requested_before_the_lock_fails_when_it_runs(tenant: Any, thread: str) -> None:
    late = tenant.call_tool("reply", {"thread": thread, "body": "One more thing"})
    lock = tenant.call_tool("lock_thread", {"thread": thread, "reason": "settled"}, role="admin")
    tenant.run(lock.id)
    done = tenant.run(late.id)
    assert done.status == DirectiveStatus.FAILED
    assert done.error["code"] == "thread-locked"
    assert tenant.data("threads")[thread]["post_count"] == 2
    numbers = [s.data["number"] for s in tenant.signals if s.type == "forums.post.created"]
    assert numbers == [1, 2]


def test_a_hidden_post_keeps_its_place_but_not_its_body(tenant: Any, thread: str) -> None:
    posts = tenant.call_tool("get_thread", {"key": thread})["posts"]
    spam = posts[1]["key"]
    tenant.call_tool("hide_post", {"post": spam, "reason": "spam"}, role="admin")
    tenant.settle()
    shown = tenant.call_tool("get_thread", {"key": thread})["posts"]
    assert [p["number"] for p in shown] == [1, 2]
    assert shown[1]["body"] == HIDDEN
    assert "hidden_reason" not in shown[1]
    assert tenant.call_tool("search_posts", {"query": "pills"}) == []
    hidden = tenant.signals[-1]
    assert (hidden.type, str(hidden.subject)) == ("forums.post.hidden", f"post:{spam}")


def test_moderating_twice_changes_nothing_the_second_time(tenant: Any, thread: str) -> None:
    for _ in range(2):
        tenant.call_tool("lock_thread", {"thread": thread, "reason": "settled"}, role="admin")
        tenant.settle()
    results = [d.result for d in tenant.directives.values() if d.type == "forums.thread.lock"]
    assert results == [{"thread": thread, "changed": True}, {"thread": thread, "changed": False}]
    assert len([s for s in tenant.signals if s.type == "forums.thread.locked"]) == 1
