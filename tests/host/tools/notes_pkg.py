"""Small test packages registered in code: ``notes`` and ``memo`` (both have ``search``).

``notes`` has read tools (one slow, one that raises, one that echoes the host's tenant),
a write tool (``add_note``, member), an admin write tool that needs confirmation
(``purge_notes``) and the directive handlers that do the writing.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from pydantic import Field

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_sdk import DirectiveRef, Package, ToolArgumentError, ToolContext
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.models import Directive

notes = Package("notes")
#: Released by tests that need to know a slow tool has finished.
SLOW_STARTED = threading.Event()


@notes.tool
def search(
    ctx: ToolContext, query: Annotated[str, Field(min_length=1)], limit: int = 10
) -> list[dict[str, Any]]:
    """Find notes whose title or body contains some text.

    Args:
        query: Text to look for.
        limit: The most notes to return.
    """
    return [{"key": r.key, **r.data} for r in ctx.records.find("notes", text=query, limit=limit)]


@notes.tool
def whoami(ctx: ToolContext, tenant: str = "") -> dict[str, str]:
    """Say which tenant and actor the tool runs for.

    Args:
        tenant: Ignored: the tenant always comes from the host.
    """
    return {"tenant": ctx.tenant, "actor": str(ctx.actor), "asked": tenant}


@notes.tool(timeout=0.3)
def slow(ctx: ToolContext, seconds: float = 5.0) -> str:
    """Take a while to answer.

    Args:
        seconds: How long to take.
    """
    SLOW_STARTED.set()
    time.sleep(seconds)
    return "done"


#: Two concurrent ``rendezvous`` calls meet here; run one after the other, they cannot.
RENDEZVOUS = threading.Barrier(2)


@notes.tool
def rendezvous(ctx: ToolContext) -> str:
    """Wait for another call of this tool running at the same time."""
    RENDEZVOUS.wait(timeout=2)
    return "met"


@notes.tool
def sneaky(ctx: ToolContext) -> Any:
    """A read tool that tries to request a change."""
    return ctx.request_directive("notes.note.add", {"title": "sneaky", "body": ""})


@notes.tool
def broken(ctx: ToolContext) -> str:
    """Always fail."""
    raise RuntimeError("the notes index is corrupt")


@notes.tool(effect="write", directive="notes.note.add")
def add_note(
    ctx: ToolContext, title: Annotated[str, Field(min_length=1, max_length=100)], body: str = ""
) -> DirectiveRef:
    """Add a note.

    Args:
        title: The note's title; unique.
        body: The text of the note.
    """
    if ctx.records.find("notes", where={"title": title}, limit=1):
        raise ToolArgumentError(f"a note titled {title!r} exists", code="note-exists")
    return ctx.request_directive(
        "notes.note.add", {"title": title, "body": body}, preview=f"Add note {title!r}"
    )


@notes.tool(effect="write", directive="notes.notes.purge", requires_confirmation=True)
def purge_notes(
    ctx: ToolContext, older_than_days: Annotated[int, Field(ge=0)] = 30
) -> DirectiveRef:
    """Delete every note older than some days.

    Args:
        older_than_days: Age in days above which notes are deleted.
    """
    count = len(ctx.records.find("notes", limit=1000))
    return ctx.request_directive(
        "notes.notes.purge",
        {"older_than_days": older_than_days},
        preview=f"Delete up to {count} notes older than {older_than_days} days",
    )


@notes.directive("notes.note.add")
def run_add(ctx: Any, directive: Directive) -> dict[str, Any]:
    """Write the note and emit ``notes.note.added``."""
    params = directive.params
    key = "n_" + ctx.idempotency_key[-12:]
    ctx.records.put("notes", {"title": params["title"], "body": params["body"]}, key=key)
    ctx.emit("notes.note.added", {"key": key, "title": params["title"]})
    return {"key": key}


@notes.directive("notes.notes.purge")
def run_purge(ctx: Any, directive: Directive) -> dict[str, Any]:
    """Delete every note."""
    deleted = 0
    for record in ctx.records.find("notes", limit=1000):
        deleted += int(ctx.records.delete("notes", record.key))
    return {"deleted": deleted}


memo = Package("memo")


@memo.tool
def search(ctx: ToolContext, query: str) -> list[str]:  # noqa: F811 - another package's search
    """Find memos.

    Args:
        query: Text to look for.
    """
    return [r.key for r in ctx.records.find("memos", text=query)]


def _manifest(package: Package, **fields: Any) -> Manifest:
    tools = [
        t.to_spec().model_dump(mode="json", by_alias=True) for t in package.fleetprompt_tools()
    ]
    return Manifest.model_validate(
        {"name": package.name, "version": "1.0.0", "tools": tools, **fields}
    )


def notes_manifest() -> Manifest:
    """The manifest of ``notes``."""
    return _manifest(
        notes,
        display_name="Notes",
        description="Short notes a team keeps.",
        permissions=[
            "records:read",
            "records:write",
            "signals:emit",
            "directives:request",
            "directives:handle",
        ],
        collections=[{"name": "notes", "schema": {"type": "object"}}],
        signals={"emits": [{"type": "notes.note.added", "schema": {"type": "object"}}]},
        directives=[
            {"type": "notes.note.add", "params": {"type": "object"}, "required_role": "member"},
            {"type": "notes.notes.purge", "params": {"type": "object"}, "required_role": "admin"},
        ],
        agents=[
            {
                "name": "reader",
                "description": "Reads notes, changes nothing.",
                "system_prompt": "You answer questions from the team's notes.",
                "tools": ["search", "whoami"],
            }
        ],
    )


def memo_manifest(permissions: list[str] | None = None) -> Manifest:
    """The manifest of ``memo`` (by default without ``records:read``: its tool is withheld)."""
    return _manifest(
        memo,
        display_name="Memos",
        permissions=permissions if permissions is not None else [],
        collections=[{"name": "memos", "schema": {"type": "object"}}],
    )


def registry(memo_permissions: list[str] | None = None) -> PackageRegistry:
    """A registry holding ``notes`` and ``memo``."""
    reg = PackageRegistry()
    reg.register(notes, notes_manifest())
    reg.register(memo, memo_manifest(memo_permissions))
    return reg


MANIFESTS = {"notes": notes_manifest, "memo": memo_manifest}


def install(
    db: Database, slug: str, *packages: str, status: str = "installed", version: str = "1.0.0"
) -> None:
    """Record ``packages`` as installed in ``slug`` with their agent profiles provisioned.

    A shortcut past the ``package.install`` directive for tests of the tool path.
    """
    from fleetprompt_host.engine.installed import mark_installed
    from fleetprompt_host.installations.provisioning import provision

    with db.tenant_session(slug) as session:
        for package in packages:
            mark_installed(session, package, version, status=status)
            provision(session, MANIFESTS[package](), actor="system:tests", directive_id=None)
