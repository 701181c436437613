"""Threads and posts: provisioning, starting threads, replying, reading and searching."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_sdk import DirectiveStatus, ToolArgumentError


def start(tenant: Any, title: str = "How do I reset my password?", body: str = "It loops.") -> str:
    """Start a thread through the tool, run the directive, return the thread key."""
    ref = tenant.call_tool("create_thread", {"title": title, "body": body})
    tenant.settle()
    done = tenant.directives[ref.id]
    assert done.status == DirectiveStatus.SUCCEEDED, done.error
    key: str = done.result["key"]
    return key


def reply(tenant: Any, thread: str, body: str) -> Any:
    ref = tenant.call_tool("reply", {"thread": thread, "body": body})
    tenant.settle()
    return tenant.directives[ref.id]


def test_install_provisions_the_general_category_and_a_pinned_welcome_thread(
    tenant: Any,
) -> None:
    assert set(tenant.records) == {
        ("categories", "general"),
        ("threads", "welcome"),
        ("posts", "welcome-1"),
    }
    assert all(r.provisioned for r in tenant.records.values())
    assert tenant.data("threads")["welcome"]["pinned"] is True


def test_installing_again_writes_nothing_twice(tenant: Any) -> None:
    before = set(tenant.records)
    tenant.install()
    assert set(tenant.records) == before


def test_create_thread_writes_the_thread_and_its_first_post_with_two_signals(
    tenant: Any,
) -> None:
    key = start(tenant)
    thread = tenant.call_tool("get_thread", {"key": key})
    assert thread["title"] == "How do I reset my password?"
    assert thread["author"] == "user:alice"
    assert [(p["number"], p["body"]) for p in thread["posts"]] == [(1, "It loops.")]
    assert [s.type for s in tenant.signals] == ["forums.thread.created", "forums.post.created"]
    assert str(tenant.signals[0].subject) == f"thread:{key}"


def test_replies_are_numbered_in_order(tenant: Any) -> None:
    key = start(tenant)
    for body in ("Clear your cookies.", "That worked, thanks!"):
        assert reply(tenant, key, body).status == DirectiveStatus.SUCCEEDED
    posts = tenant.call_tool("get_thread", {"key": key})["posts"]
    assert [p["number"] for p in posts] == [1, 2, 3]
    assert posts[-1]["body"] == "That worked, thanks!"
    assert tenant.data("threads")[key]["post_count"] == 3


def test_list_threads_puts_pinned_threads_first(tenant: Any) -> None:
    key = start(tenant)
    assert [t["key"] for t in tenant.call_tool("list_threads", {})] == ["welcome", key]
    assert tenant.call_tool("list_threads", {"category": "nowhere"}) == []


def test_search_posts_finds_words_across_threads(tenant: Any) -> None:
    key = start(tenant)
    reply(tenant, key, "Clear your cookies and retry.")
    found = tenant.call_tool("search_posts", {"query": "cookies"})
    assert [(p["thread"], p["number"]) for p in found] == [(key, 2)]


@pytest.mark.parametrize(
    ("tool", "arguments", "code"),
    [
        (
            "create_thread",
            {"title": "Hello", "body": "x", "category": "nowhere"},
            "category-not-found",
        ),
        ("reply", {"thread": "thread_missing", "body": "x"}, "thread-not-found"),
        ("get_thread", {"key": "thread_missing"}, "thread-not-found"),
    ],
)
def test_unknown_keys_are_errors_the_model_can_correct(
    tenant: Any, tool: str, arguments: dict[str, Any], code: str
) -> None:
    with pytest.raises(ToolArgumentError) as err:
        tenant.call_tool(tool, arguments)
    assert err.value.code == code
    assert tenant.directives == {}
