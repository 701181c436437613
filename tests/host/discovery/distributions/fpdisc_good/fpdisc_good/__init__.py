"""A small but complete package: tools, a signal handler, a directive handler, lifecycle."""

from __future__ import annotations

from typing import Any

from fleetprompt_sdk import Package

package = Package("discgood")


@package.tool
def lookup_note(ctx: Any, text: str, limit: int = 10) -> list[dict[str, Any]]:
    """Find notes whose text contains some words.

    Args:
        text: Words to look for.
        limit: At most this many notes.
    """
    return [r.data for r in ctx.records.find("notes", text=text, limit=limit)]


@package.tool(effect="write", directive="discgood.note.create", requires_confirmation=True)
def create_note(ctx: Any, text: str) -> dict[str, Any]:
    """Write a new note.

    Args:
        text: The note's text.
    """
    return ctx.request_directive("discgood.note.create", {"text": text})


@package.on_signal("remember_ticket")
def remember_ticket(ctx: Any, signal: Any) -> None:
    """Keep a note about each new ticket."""
    ctx.request_directive("discgood.note.create", {"text": f"ticket {signal.subject}"})


@package.directive("discgood.note.create")
def run_create_note(ctx: Any, directive: Any) -> dict[str, Any]:
    """Store the note and announce it."""
    record = ctx.records.put("notes", {"text": directive.params["text"]})
    ctx.emit("discgood.note.created", {"key": record.key})
    return {"key": record.key}


@package.on_install
def install(ctx: Any) -> None:
    """Record the call so that tests can see which package's hook ran."""
    ctx.calls.append(("install", "discgood"))


@package.on_upgrade
def upgrade(ctx: Any, from_version: str, to_version: str) -> None:
    """Record the call with its versions."""
    ctx.calls.append(("upgrade", "discgood", from_version, to_version))


@package.on_uninstall
def uninstall(ctx: Any, purge: bool) -> None:
    """Record the call with its purge flag."""
    ctx.calls.append(("uninstall", "discgood", purge))
