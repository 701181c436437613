"""Helpdesk: support tickets, opened by people, by models and by CRM events.

What this package adds to the patterns of ``crm``:

- a signal handler: every new CRM contact gets a welcome ticket (``welcome_ticket``
  subscribes to ``crm.contact.created``, so the manifest depends on ``crm``);
- a high-impact tool: ``bulk_close_tickets`` requires confirmation and an admin;
- per-install config with a secret: ``webhook_token`` is read with ``ctx.secret`` and
  sent in an HTTP header only, never stored;
- an upgrade hook that migrates tickets written by helpdesk 1.x (see ``migrations``).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import Field

from fleetprompt_sdk import (
    DirectiveContext,
    DirectiveRef,
    HandlerContext,
    Package,
    ToolArgumentError,
    ToolContext,
)
from fleetprompt_sdk.models import Directive, Record, Signal, Subject

from .migrations import TICKETS, upgrade_tickets
from .webhook import notify

package = Package("helpdesk")
package.on_upgrade(upgrade_tickets)

State = Literal["open", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
Key = Annotated[str, Field(min_length=1, max_length=200)]
Limit = Annotated[int, Field(ge=1, le=100)]


def stable_key(prefix: str, idempotency_key: str) -> str:
    """Derive a record key from an idempotency key, so a retry rewrites the same record."""
    return f"{prefix}_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]}"


def as_dict(record: Record) -> dict[str, Any]:
    """Return a ticket as the JSON object tools hand to the model."""
    return {"key": record.key, **record.data}


def _ticket(ctx: ToolContext, key: str) -> Record:
    record = ctx.records.get(TICKETS, key)
    if record is None:
        raise ToolArgumentError(
            f"no ticket with key {key!r}; list_tickets shows keys", code="ticket-not-found"
        )
    return record


# -- read tools -------------------------------------------------------------------------
@package.tool
def list_tickets(
    ctx: ToolContext,
    state: State | None = "open",
    priority: Priority | None = None,
    contact: Key | None = None,
    limit: Limit = 20,
) -> list[dict[str, Any]]:
    """List tickets, by default the open ones.

    Args:
        state: Only tickets in this state; null for every state.
        priority: Only tickets of this priority.
        contact: Only tickets about this CRM contact key.
        limit: The most tickets to return.
    """
    given = {"state": state, "priority": priority, "contact": contact}
    where = {k: v for k, v in given.items() if v is not None}
    return [as_dict(r) for r in ctx.records.find(TICKETS, where=where, limit=limit)]


@package.tool
def get_ticket(ctx: ToolContext, key: Key) -> dict[str, Any]:
    """Return one ticket with its full body.

    Args:
        key: The ticket's key, as returned by list_tickets.
    """
    return as_dict(_ticket(ctx, key))


# -- write tools ------------------------------------------------------------------------
@package.tool(effect="write", directive="helpdesk.ticket.create")
def create_ticket(
    ctx: ToolContext,
    title: Annotated[str, Field(min_length=1, max_length=200)],
    body: Annotated[str, Field(max_length=10_000)] = "",
    priority: Priority = "normal",
    contact: Key | None = None,
) -> DirectiveRef:
    """Open a support ticket.

    Args:
        title: A one-line summary of the problem.
        body: The details: what happened, what was expected.
        priority: How urgent the ticket is.
        contact: The CRM contact key of the person who needs help, if known.
    """
    params = {"title": title, "body": body, "priority": priority, "contact": contact}
    return ctx.request_directive(
        "helpdesk.ticket.create", params, preview=f"Open {priority} ticket: {title}"
    )


@package.tool(effect="write", directive="helpdesk.tickets.bulk_close", requires_confirmation=True)
def bulk_close_tickets(
    ctx: ToolContext,
    keys: Annotated[list[Key], Field(min_length=1, max_length=100)],
    reason: Annotated[str, Field(min_length=1, max_length=500)],
) -> DirectiveRef:
    """Close several open tickets at once. Needs an admin and explicit confirmation.

    Args:
        keys: The keys of the tickets to close.
        reason: Why they are closed, recorded on every ticket.
    """
    keys = list(dict.fromkeys(keys))
    tickets = [_ticket(ctx, key) for key in keys]
    open_ = [t for t in tickets if t.data["state"] == "open"]
    if not open_:
        raise ToolArgumentError("none of these tickets is open", code="nothing-to-close")
    titles = "; ".join(f"{t.key} ({t.data['title']})" for t in open_)
    return ctx.request_directive(
        "helpdesk.tickets.bulk_close",
        {"keys": [t.key for t in open_], "reason": reason},
        preview=f"Close {len(open_)} ticket(s) because {reason!r}: {titles}",
    )


# -- signal handlers --------------------------------------------------------------------
@package.on_signal("welcome_ticket")
def welcome_ticket(ctx: HandlerContext, signal: Signal) -> None:
    """Open a welcome ticket for a new CRM contact.

    The directive key is derived from ``ctx.idempotency_key``: a redelivered signal
    requests the same directive again, which the host recognises and does not repeat.
    """
    contact = signal.data
    ctx.request_directive(
        "helpdesk.ticket.create",
        {
            "title": f"Welcome {contact['name']}",
            "body": f"Say hello to {contact['name']} <{contact['email']}> and offer onboarding.",
            "priority": "low",
            "contact": contact["key"],
        },
        key=f"{ctx.idempotency_key}:welcome",
    )


# -- directive handlers -----------------------------------------------------------------
@package.directive("helpdesk.ticket.create")
def run_create_ticket(ctx: DirectiveContext, directive: Directive) -> dict[str, Any]:
    """Write the ticket, emit ``helpdesk.ticket.created``, then notify the webhook if set."""
    params = directive.params
    key = stable_key("ticket", ctx.idempotency_key)
    data = {
        "title": params["title"],
        "body": params.get("body", ""),
        "state": "open",
        "priority": params.get("priority", "normal"),
        "contact": params.get("contact"),
        "opened_by": str(ctx.actor),
        "closed_reason": None,
    }
    ctx.records.put(TICKETS, data, key=key)
    summary = {"key": key, **{k: data[k] for k in ("title", "priority", "contact")}}
    ctx.emit(
        "helpdesk.ticket.created",
        summary,
        subject=Subject(type="ticket", id=key),
        dedupe_key=f"helpdesk.ticket.created:{ctx.idempotency_key}",
    )
    url = ctx.config.get("webhook_url")
    if url:
        # Last, so a failed call fails the directive and rolls back the ticket too; the
        # retry sends the same Idempotency-Key.
        payload = {"event": "helpdesk.ticket.created", "tenant": ctx.tenant, "ticket": summary}
        notify(url, ctx.secret("webhook_token"), payload, ctx.idempotency_key)
    return {"key": key, "notified": bool(url)}


@package.directive("helpdesk.tickets.bulk_close")
def run_bulk_close(ctx: DirectiveContext, directive: Directive) -> dict[str, Any]:
    """Close each listed open ticket and emit one ``helpdesk.ticket.closed`` per ticket."""
    reason = directive.params["reason"]
    outcome: dict[str, list[str]] = {"closed": [], "already_closed": [], "missing": []}
    for key in directive.params["keys"]:
        record = ctx.records.get(TICKETS, key)
        if record is None:
            outcome["missing"].append(key)
            continue
        if record.data["state"] == "closed":
            outcome["already_closed"].append(key)
            continue
        ctx.records.update(TICKETS, key, {"state": "closed", "closed_reason": reason})
        ctx.emit(
            "helpdesk.ticket.closed",
            {"key": key, "reason": reason},
            subject=Subject(type="ticket", id=key),
            dedupe_key=f"helpdesk.ticket.closed:{ctx.idempotency_key}:{key}",
        )
        outcome["closed"].append(key)
    return outcome
