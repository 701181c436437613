"""Threads and posts: provisioning, starting threads, replying, reading and searching."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_host.testing.plugin import TenantHarness

pytestmark = pytest.mark.fleetprompt(install=["forums"])


def start(
    fp_tenant: TenantHarness,
    title: str = "How do I reset my password?",
    body: str = "It loops.",
    actor: str | None = None,
) -> str:
    """Start a thread through the tool (its directive runs at once); return its key."""
    outcome = fp_tenant.call_tool("create_thread", {"title": title, "body": body}, actor=actor)
    assert outcome.directive is not None and outcome.directive["status"] == "succeeded", outcome
    key: str = outcome.directive["result"]["key"]
    return key


def reply(fp_tenant: TenantHarness, thread: str, body: str) -> dict[str, Any]:
    """Reply through the tool; return the directive as the tool reported it."""
    outcome = fp_tenant.call_tool("reply", {"thread": thread, "body": body})
    assert outcome.directive is not None, outcome.error
    return outcome.directive


def all_records(fp_tenant: TenantHarness) -> dict[tuple[str, str], Any]:
    """Return every record of the package by (collection, key)."""
    return {
        (collection, r.key): r
        for collection in ("categories", "threads", "posts", "_agents")
        for r in fp_tenant.records(collection)
    }


def test_install_provisions_the_general_category_and_a_pinned_welcome_thread(
    fp_tenant: TenantHarness,
) -> None:
    records = all_records(fp_tenant)
    assert set(records) == {
        ("categories", "general"),
        ("threads", "welcome"),
        ("posts", "welcome-1"),
        ("_agents", "forum_helper"),
    }
    assert all(r.provisioned for r in records.values())
    assert records[("threads", "welcome")].data["pinned"] is True


def test_installing_again_is_a_no_op_that_writes_nothing(fp_tenant: TenantHarness) -> None:
    before = all_records(fp_tenant)
    (step,) = fp_tenant.host.install(fp_tenant.slug, "forums").steps
    assert step.noop is not None and "already installed" in step.noop
    assert all_records(fp_tenant) == before
    assert len(fp_tenant.directives("package.install")) == 1


def test_create_thread_writes_the_thread_and_its_first_post_with_two_signals(
    fp_tenant: TenantHarness,
) -> None:
    alice = fp_tenant.as_user("alice", "member")
    key = start(fp_tenant, actor=alice)
    thread = fp_tenant.call_tool("get_thread", {"key": key}).output
    assert (thread["title"], thread["author"]) == ("How do I reset my password?", "user:alice")
    assert [(p["number"], p["body"]) for p in thread["posts"]] == [(1, "It loops.")]
    signals = fp_tenant.signals("forums.**")
    assert [s.type for s in signals] == ["forums.thread.created", "forums.post.created"]
    assert str(signals[0].subject) == f"thread:{key}"


def test_replies_are_numbered_in_order(fp_tenant: TenantHarness) -> None:
    key = start(fp_tenant)
    for body in ("Clear your cookies.", "That worked, thanks!"):
        assert reply(fp_tenant, key, body)["status"] == "succeeded"
    posts = fp_tenant.call_tool("get_thread", {"key": key}).output["posts"]
    assert [p["number"] for p in posts] == [1, 2, 3]
    assert posts[-1]["body"] == "That worked, thanks!"
    (thread,) = [t for t in fp_tenant.records("threads") if t.key == key]
    assert thread.data["post_count"] == 3


def test_list_threads_puts_pinned_threads_first(fp_tenant: TenantHarness) -> None:
    key = start(fp_tenant)
    listed = fp_tenant.call_tool("list_threads", {}).output
    assert [t["key"] for t in listed] == ["welcome", key]
    assert fp_tenant.call_tool("list_threads", {"category": "nowhere"}).output == []


def test_search_posts_finds_words_across_threads(fp_tenant: TenantHarness) -> None:
    key = start(fp_tenant)
    reply(fp_tenant, key, "Clear your cookies and retry.")
    found = fp_tenant.call_tool("search_posts", {"query": "cookies"}).output
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
        ("create_thread", {"title": "Hi", "body": "x"}, "tool-arguments-invalid"),
    ],
)
def test_unknown_keys_and_bad_arguments_are_errors_the_model_can_correct(
    fp_tenant: TenantHarness, tool: str, arguments: dict[str, Any], code: str
) -> None:
    outcome = fp_tenant.call_tool(tool, arguments)
    assert outcome.error is not None and outcome.error["code"] == code
    assert fp_tenant.directives("forums.**") == []
