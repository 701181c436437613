"""Forums: categories, threads and posts, with moderation and a question-answering agent.

What this package adds to the patterns of ``crm`` and ``helpdesk``:

- lifecycle hooks: installing provisions a welcome thread (stable keys, so a repeated
  install writes nothing twice); uninstalling removes replies that would otherwise
  point at that thread once the host removes it;
- moderation directives (``forums.thread.lock``, ``forums.post.hide``) that only admins
  may run, requested by ordinary write tools;
- an agent profile, ``forum_helper``, that answers questions from forum content using
  the read tools only.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from pydantic import Field

from fleetprompt_sdk import (
    DirectiveContext,
    DirectiveRef,
    InstallContext,
    InvalidInputError,
    NotFoundError,
    Package,
    ToolArgumentError,
    ToolContext,
)
from fleetprompt_sdk.context import RecordReader
from fleetprompt_sdk.models import Directive, Record, Subject

package = Package("forums")

CATEGORIES = "categories"
THREADS = "threads"
POSTS = "posts"
WELCOME_THREAD = "welcome"
#: What readers see instead of a hidden post's body.
HIDDEN_BODY = "[hidden by a moderator]"

Key = Annotated[str, Field(min_length=1, max_length=200)]
Body = Annotated[str, Field(min_length=1, max_length=20_000)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
Limit = Annotated[int, Field(ge=1, le=100)]


def stable_key(prefix: str, idempotency_key: str) -> str:
    """Derive a record key from an idempotency key, so a retry rewrites the same record."""
    return f"{prefix}_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]}"


def as_dict(record: Record) -> dict[str, Any]:
    """Return a record as the JSON object tools hand to the model."""
    return {"key": record.key, **record.data}


def public_post(record: Record) -> dict[str, Any]:
    """Return a post as readers may see it: a hidden post keeps its place, not its body."""
    post = as_dict(record)
    if post["hidden"]:
        post["body"] = HIDDEN_BODY
        post.pop("hidden_reason", None)
    return post


_NOUNS = {CATEGORIES: "category", THREADS: "thread", POSTS: "post"}


def _existing(records: RecordReader, collection: str, key: str) -> Record:
    record = records.get(collection, key)
    if record is None:
        noun = _NOUNS[collection]
        raise ToolArgumentError(f"no {noun} with key {key!r}", code=f"{noun}-not-found")
    return record


# -- lifecycle hooks --------------------------------------------------------------------
@package.on_install
def provision_welcome_thread(ctx: InstallContext) -> None:
    """Open a pinned welcome thread in the seeded ``general`` category.

    The keys are fixed, so installing twice (or re-running a failed install) rewrites the
    same two records; the host marks them provisioned and removes them on uninstall.
    """
    ctx.records.put(
        THREADS,
        {
            "category": "general",
            "title": "Welcome to the forums",
            "author": "system:forums",
            "locked": False,
            "lock_reason": None,
            "pinned": True,
            "post_count": 1,
        },
        key=WELCOME_THREAD,
    )
    ctx.records.put(
        POSTS,
        {
            "thread": WELCOME_THREAD,
            "number": 1,
            "body": "Ask questions, share answers, be kind. Moderators may lock or hide.",
            "author": "system:forums",
            "hidden": False,
            "hidden_reason": None,
        },
        key=f"{WELCOME_THREAD}-1",
    )


@package.on_uninstall
def drop_replies_to_the_welcome_thread(ctx: InstallContext, purge: bool) -> None:
    """Delete the posts of the welcome thread, which the host removes afterwards.

    Without this, a removal that keeps user records (no ``purge``) would leave users'
    replies pointing at a thread that no longer exists. With ``purge`` the host removes
    every record anyway.
    """
    if purge:
        return
    # Each batch deletes what it found, so the loop ends without paging.
    while batch := ctx.records.find(POSTS, where={"thread": WELCOME_THREAD}, limit=100):
        for post in batch:
            ctx.records.delete(POSTS, post.key)


# -- read tools -------------------------------------------------------------------------
@package.tool
def list_threads(
    ctx: ToolContext, category: Key | None = None, limit: Limit = 20
) -> list[dict[str, Any]]:
    """List threads, pinned ones first, optionally in one category.

    Args:
        category: A category key such as general; omit for all categories.
        limit: The most threads to return.
    """
    where = {"category": category} if category else None
    threads = [as_dict(r) for r in ctx.records.find(THREADS, where=where, limit=limit)]
    return sorted(threads, key=lambda t: not t["pinned"])


@package.tool
def get_thread(ctx: ToolContext, key: Key) -> dict[str, Any]:
    """Return a thread with its posts in order; hidden posts show no body.

    Args:
        key: The thread's key, as returned by list_threads.
    """
    thread = as_dict(_existing(ctx.records, THREADS, key))
    posts = ctx.records.find(POSTS, where={"thread": key}, limit=500)
    thread["posts"] = [public_post(p) for p in sorted(posts, key=lambda p: p.data["number"])]
    return thread


@package.tool
def search_posts(
    ctx: ToolContext, query: Annotated[str, Field(min_length=2, max_length=200)], limit: Limit = 20
) -> list[dict[str, Any]]:
    """Find visible posts containing some text, to answer a question from past discussions.

    Args:
        query: Words to look for in posts.
        limit: The most posts to return.
    """
    found = ctx.records.find(POSTS, where={"hidden": False}, text=query, limit=limit)
    return [as_dict(p) for p in found]


# -- write tools ------------------------------------------------------------------------
@package.tool(effect="write", directive="forums.thread.create")
def create_thread(
    ctx: ToolContext,
    title: Annotated[str, Field(min_length=3, max_length=200)],
    body: Body,
    category: Key = "general",
) -> DirectiveRef:
    """Start a new thread with a first post.

    Args:
        title: The thread's title, ideally a question.
        body: The first post.
        category: The category key to post in.
    """
    _existing(ctx.records, CATEGORIES, category)
    return ctx.request_directive(
        "forums.thread.create",
        {"category": category, "title": title, "body": body},
        preview=f"Start thread {title!r} in {category}",
    )


@package.tool(effect="write", directive="forums.post.create")
def reply(ctx: ToolContext, thread: Key, body: Body) -> DirectiveRef:
    """Post a reply at the end of a thread. Locked threads take no replies.

    Args:
        thread: The key of the thread to reply to.
        body: The reply.
    """
    record = _existing(ctx.records, THREADS, thread)
    if record.data["locked"]:
        raise ToolArgumentError(f"thread {thread!r} is locked", code="thread-locked")
    return ctx.request_directive(
        "forums.post.create",
        {"thread": thread, "body": body},
        preview=f"Reply in {record.data['title']!r}: {body[:80]}",
    )


@package.tool(effect="write", directive="forums.thread.lock")
def lock_thread(ctx: ToolContext, thread: Key, reason: Reason) -> DirectiveRef:
    """Lock a thread so nobody can reply any more (moderators only).

    Args:
        thread: The key of the thread to lock.
        reason: Why, shown to readers of the thread.
    """
    record = _existing(ctx.records, THREADS, thread)
    return ctx.request_directive(
        "forums.thread.lock",
        {"thread": thread, "reason": reason},
        preview=f"Lock thread {record.data['title']!r}: {reason}",
    )


@package.tool(effect="write", directive="forums.post.hide")
def hide_post(ctx: ToolContext, post: Key, reason: Reason) -> DirectiveRef:
    """Hide a post's body from readers (moderators only); the post keeps its place.

    Args:
        post: The key of the post to hide.
        reason: Why, kept for the moderation log.
    """
    _existing(ctx.records, POSTS, post)
    return ctx.request_directive(
        "forums.post.hide", {"post": post, "reason": reason}, preview=f"Hide post {post}: {reason}"
    )


# -- directive handlers -----------------------------------------------------------------
def _add_post(ctx: DirectiveContext, thread: Record, body: str, key: str) -> dict[str, Any]:
    """Append a post to ``thread`` (numbered after the last) and emit ``forums.post.created``."""
    number = thread.data["post_count"] + 1
    data = {
        "thread": thread.key,
        "number": number,
        "body": body,
        "author": str(ctx.actor),
        "hidden": False,
        "hidden_reason": None,
    }
    ctx.records.put(POSTS, data, key=key)
    ctx.records.update(THREADS, thread.key, {"post_count": number})
    ctx.emit(
        "forums.post.created",
        {"key": key, "thread": thread.key, "number": number, "author": data["author"]},
        subject=Subject(type="post", id=key),
        dedupe_key=f"forums.post.created:{key}",
    )
    return {"key": key, "thread": thread.key, "number": number}


@package.directive("forums.thread.create")
def run_create_thread(ctx: DirectiveContext, directive: Directive) -> dict[str, Any]:
    """Write the thread and its first post; emit ``forums.thread.created`` and the post's."""
    params = directive.params
    if ctx.records.get(CATEGORIES, params["category"]) is None:
        raise NotFoundError(f"forums.thread.create: no category {params['category']!r}")
    key = stable_key("thread", ctx.idempotency_key)
    thread = ctx.records.put(
        THREADS,
        {
            "category": params["category"],
            "title": params["title"],
            "author": str(ctx.actor),
            "locked": False,
            "lock_reason": None,
            "pinned": False,
            "post_count": 0,
        },
        key=key,
    )
    ctx.emit(
        "forums.thread.created",
        {"key": key, "category": params["category"], "title": params["title"]},
        subject=Subject(type="thread", id=key),
        dedupe_key=f"forums.thread.created:{ctx.idempotency_key}",
    )
    first = _add_post(ctx, thread, params["body"], f"{key}-1")
    return {"key": key, "post": first["key"]}


@package.directive("forums.post.create")
def run_reply(ctx: DirectiveContext, directive: Directive) -> dict[str, Any]:
    """Append a reply; refuse it if the thread was locked since the tool was called."""
    thread = ctx.records.get(THREADS, directive.params["thread"])
    if thread is None:
        raise NotFoundError(f"forums.post.create: no thread {directive.params['thread']!r}")
    if thread.data["locked"]:
        raise InvalidInputError(f"thread {thread.key!r} is locked", code="thread-locked")
    return _add_post(ctx, thread, directive.params["body"], stable_key("post", ctx.idempotency_key))


@package.directive("forums.thread.lock")
def run_lock_thread(ctx: DirectiveContext, directive: Directive) -> dict[str, Any]:
    """Lock the thread and emit ``forums.thread.locked`` (locking twice changes nothing)."""
    key, reason = directive.params["thread"], directive.params["reason"]
    thread = ctx.records.get(THREADS, key)
    if thread is None:
        raise NotFoundError(f"forums.thread.lock: no thread {key!r}")
    if thread.data["locked"]:
        return {"thread": key, "changed": False}
    ctx.records.update(THREADS, key, {"locked": True, "lock_reason": reason})
    ctx.emit(
        "forums.thread.locked",
        {"key": key, "reason": reason, "by": str(ctx.actor)},
        subject=Subject(type="thread", id=key),
        dedupe_key=f"forums.thread.locked:{ctx.idempotency_key}",
    )
    return {"thread": key, "changed": True}


@package.directive("forums.post.hide")
def run_hide_post(ctx: DirectiveContext, directive: Directive) -> dict[str, Any]:
    """Hide the post and emit ``forums.post.hidden`` (hiding twice changes nothing)."""
    key, reason = directive.params["post"], directive.params["reason"]
    post = ctx.records.get(POSTS, key)
    if post is None:
        raise NotFoundError(f"forums.post.hide: no post {key!r}")
    if post.data["hidden"]:
        return {"post": key, "changed": False}
    ctx.records.update(POSTS, key, {"hidden": True, "hidden_reason": reason})
    ctx.emit(
        "forums.post.hidden",
        {"key": key, "thread": post.data["thread"], "reason": reason, "by": str(ctx.actor)},
        subject=Subject(type="post", id=key),
        dedupe_key=f"forums.post.hidden:{ctx.idempotency_key}",
    )
    return {"post": key, "changed": True}
