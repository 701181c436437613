"""Helpdesk 1.0: support tickets with a numeric priority.

This is the 1.x line of ``fleetprompt-helpdesk``, kept so that upgrading to 2.0 can be
tested against real installed code. 2.0 renames ``status`` to ``state``, turns the
numeric ``priority`` (1 = most urgent .. 4) into a label, and migrates stored tickets in
its upgrade hook.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import Field

from fleetprompt_sdk import DirectiveContext, DirectiveRef, Package, ToolArgumentError, ToolContext
from fleetprompt_sdk.models import Directive, Record, Subject

package = Package("helpdesk")

TICKETS = "tickets"
Key = Annotated[str, Field(min_length=1, max_length=200)]


def as_dict(record: Record) -> dict[str, Any]:
    """Return a ticket as the JSON object tools hand to the model."""
    return {"key": record.key, **record.data}


@package.tool
def list_tickets(
    ctx: ToolContext,
    status: Literal["open", "closed"] | None = "open",
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
) -> list[dict[str, Any]]:
    """List tickets, by default the open ones.

    Args:
        status: Only tickets with this status; null for all.
        limit: The most tickets to return.
    """
    where = {"status": status} if status else None
    return [as_dict(r) for r in ctx.records.find(TICKETS, where=where, limit=limit)]


@package.tool
def get_ticket(ctx: ToolContext, key: Key) -> dict[str, Any]:
    """Return one ticket.

    Args:
        key: The ticket's key, as returned by list_tickets.
    """
    record = ctx.records.get(TICKETS, key)
    if record is None:
        raise ToolArgumentError(f"no ticket with key {key!r}", code="ticket-not-found")
    return as_dict(record)


@package.tool(effect="write", directive="helpdesk.ticket.create")
def create_ticket(
    ctx: ToolContext,
    title: Annotated[str, Field(min_length=1, max_length=200)],
    body: Annotated[str, Field(max_length=10_000)] = "",
    priority: Annotated[int, Field(ge=1, le=4)] = 3,
) -> DirectiveRef:
    """Open a support ticket.

    Args:
        title: A one-line summary of the problem.
        body: The details.
        priority: 1 (most urgent) to 4 (least).
    """
    params = {"title": title, "body": body, "priority": priority}
    return ctx.request_directive(
        "helpdesk.ticket.create", params, preview=f"Open P{priority} ticket: {title}"
    )


@package.directive("helpdesk.ticket.create")
def run_create_ticket(ctx: DirectiveContext, directive: Directive) -> dict[str, Any]:
    """Write the ticket and emit ``helpdesk.ticket.created``."""
    key = f"ticket_{hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:16]}"
    params = directive.params
    data = {
        "title": params["title"],
        "body": params.get("body", ""),
        "status": "open",
        "priority": params.get("priority", 3),
        "opened_by": str(ctx.actor),
    }
    ctx.records.put(TICKETS, data, key=key)
    ctx.emit(
        "helpdesk.ticket.created",
        {"key": key, "title": data["title"]},
        subject=Subject(type="ticket", id=key),
        dedupe_key=f"helpdesk.ticket.created:{ctx.idempotency_key}",
    )
    return {"key": key}
