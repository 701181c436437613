"""Uninstalling keeps users' threads (unless purged) and leaves no post without its thread."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_host.testing.plugin import TenantHarness

pytestmark = pytest.mark.fleetprompt(install=["forums"])

COLLECTIONS = ("categories", "threads", "posts", "_agents")


def data(fp_tenant: TenantHarness, collection: str) -> dict[str, dict[str, Any]]:
    """Return ``{key: data}`` of a collection of the package."""
    return {r.key: r.data for r in fp_tenant.records(collection)}


@pytest.fixture
def used(fp_tenant: TenantHarness) -> TenantHarness:
    """A tenant where a user started a thread and replied to the welcome thread."""
    for tool, arguments in [
        ("create_thread", {"title": "Roadmap?", "body": "What comes next?"}),
        ("reply", {"thread": "welcome", "body": "Hi all!"}),
    ]:
        outcome = fp_tenant.call_tool(tool, arguments)
        assert outcome.directive is not None and outcome.directive["status"] == "succeeded"
    return fp_tenant


def test_uninstall_keeps_user_threads_and_drops_the_welcome_thread_with_its_replies(
    used: TenantHarness,
) -> None:
    (step,) = used.host.uninstall(used.slug, "forums").steps
    assert step.status == "succeeded"
    threads = data(used, "threads")
    assert [t["title"] for t in threads.values()] == ["Roadmap?"]
    posts = data(used, "posts")
    assert [p["body"] for p in posts.values()] == ["What comes next?"]
    assert all(p["thread"] in threads for p in posts.values())
    assert data(used, "categories") == data(used, "_agents") == {}
    assert used.tools() == []


def test_uninstall_with_purge_removes_everything(used: TenantHarness) -> None:
    used.host.uninstall(used.slug, "forums", purge=True)
    assert [r for c in COLLECTIONS for r in used.records(c)] == []


def test_reinstalling_brings_back_one_welcome_thread_beside_the_kept_user_thread(
    used: TenantHarness,
) -> None:
    used.host.uninstall(used.slug, "forums")
    used.host.install(used.slug, "forums")
    threads = data(used, "threads")
    assert sorted(t["title"] for t in threads.values()) == ["Roadmap?", "Welcome to the forums"]
    welcome_posts = [p for p in data(used, "posts").values() if p["thread"] == "welcome"]
    assert [p["number"] for p in welcome_posts] == [1]
    assert len(used.tools()) == 7
