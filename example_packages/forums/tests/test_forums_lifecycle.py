"""Uninstalling keeps users' threads (unless purged) and leaves no post without its thread."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def used(tenant: Any) -> Any:
    """A tenant where a user started a thread and replied to the welcome thread."""
    tenant.call_tool("create_thread", {"title": "Roadmap?", "body": "What comes next?"})
    tenant.call_tool("reply", {"thread": "welcome", "body": "Hi all!"})
    tenant.settle()
    return tenant


def test_uninstall_keeps_user_threads_and_drops_the_welcome_thread_with_its_replies(
    used: Any,
) -> None:
    used.uninstall(purge=False)
    threads = used.data("threads")
    assert [t["title"] for t in threads.values()] == ["Roadmap?"]
    posts = used.data("posts")
    assert [p["body"] for p in posts.values()] == ["What comes next?"]
    assert all(p["thread"] in threads for p in posts.values())


def test_uninstall_with_purge_removes_everything(used: Any) -> None:
    used.uninstall(purge=True)
    assert used.records == {}
