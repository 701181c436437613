"""Tickets: opening, listing, bulk closing with confirmation and an admin role."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_sdk import DirectiveStatus, PermissionDeniedError, ToolArgumentError


def open_ticket(tenant: Any, title: str, priority: str = "normal") -> str:
    """Open a ticket through the tool, run the directive, return the ticket key."""
    ref = tenant.call_tool("create_ticket", {"title": title, "priority": priority})
    tenant.settle()
    done = tenant.directives[ref.id]
    assert done.status == DirectiveStatus.SUCCEEDED, done.error
    key: str = done.result["key"]
    return key


def test_create_ticket_opens_a_ticket_and_emits_created(tenant: Any) -> None:
    ref = tenant.call_tool("create_ticket", {"title": "Printer on fire", "priority": "urgent"})
    assert ref.preview == "Open urgent ticket: Printer on fire"
    assert tenant.data("tickets") == {}
    tenant.settle()
    key = tenant.directives[ref.id].result["key"]
    assert tenant.data("tickets")[key] == {
        "title": "Printer on fire",
        "body": "",
        "state": "open",
        "priority": "urgent",
        "contact": None,
        "opened_by": "user:alice",
        "closed_reason": None,
    }
    (signal,) = tenant.signals
    assert (signal.type, str(signal.subject)) == ("helpdesk.ticket.created", f"ticket:{key}")
    assert tenant.directives[ref.id].result == {"key": key, "notified": False}


def test_list_tickets_filters_by_state_and_priority(tenant: Any) -> None:
    low = open_ticket(tenant, "Typo on the invoice", "low")
    high = open_ticket(tenant, "Cannot log in", "high")
    assert {t["key"] for t in tenant.call_tool("list_tickets", {})} == {low, high}
    assert [t["key"] for t in tenant.call_tool("list_tickets", {"priority": "high"})] == [high]
    assert tenant.call_tool("list_tickets", {"state": "closed"}) == []
    assert tenant.call_tool("get_ticket", {"key": low})["title"] == "Typo on the invoice"


def test_unknown_ticket_is_an_error_the_model_can_correct(tenant: Any) -> None:
    with pytest.raises(ToolArgumentError) as err:
        tenant.call_tool("get_ticket", {"key": "ticket_nope"})
    assert err.value.code == "ticket-not-found"


def test_a_member_cannot_bulk_close_and_nothing_is_requested(tenant: Any) -> None:
    key = open_ticket(tenant, "Cannot log in")
    requested = len(tenant.directives)
    with pytest.raises(PermissionDeniedError):
        tenant.call_tool("bulk_close_tickets", {"keys": [key], "reason": "fixed"})
    assert len(tenant.directives) == requested
    assert tenant.data("tickets")[key]["state"] == "open"


def test_bulk_close_previews_the_open_tickets_then_closes_each_with_a_signal(
    tenant: Any,
) -> None:
    first = open_ticket(tenant, "Cannot log in")
    second = open_ticket(tenant, "Password reset loops")
    arguments = {"keys": [first, second, first], "reason": "fixed by SSO rollout"}
    ref = tenant.call_tool("bulk_close_tickets", arguments, role="admin")
    assert ref.preview.startswith("Close 2 ticket(s) because 'fixed by SSO rollout'")
    assert "Password reset loops" in ref.preview
    assert tenant.directives[ref.id].params["keys"] == [first, second]
    tenant.settle()
    assert tenant.directives[ref.id].result == {
        "closed": [first, second],
        "already_closed": [],
        "missing": [],
    }
    for key in (first, second):
        assert tenant.data("tickets")[key]["state"] == "closed"
        assert tenant.data("tickets")[key]["closed_reason"] == "fixed by SSO rollout"
    closed = [s for s in tenant.signals if s.type == "helpdesk.ticket.closed"]
    assert [s.data["key"] for s in closed] == [first, second]


def test_tickets_closed_before_the_bulk_close_runs_are_reported_not_closed_twice(
    tenant: Any,
) -> None:
    first = open_ticket(tenant, "Cannot log in")
    second = open_ticket(tenant, "Password reset loops")
    pending = tenant.call_tool(
        "bulk_close_tickets", {"keys": [first, second], "reason": "batch"}, role="admin"
    )
    early = tenant.call_tool(
        "bulk_close_tickets", {"keys": [first], "reason": "early"}, role="admin"
    )
    tenant.run(early.id)
    done = tenant.run(pending.id)
    assert done.result == {"closed": [second], "already_closed": [first], "missing": []}
    assert tenant.data("tickets")[first]["closed_reason"] == "early"
    assert len([s for s in tenant.signals if s.type == "helpdesk.ticket.closed"]) == 2


def test_bulk_close_of_only_closed_tickets_is_refused(tenant: Any) -> None:
    key = open_ticket(tenant, "Cannot log in")
    tenant.call_tool("bulk_close_tickets", {"keys": [key], "reason": "fixed"}, role="admin")
    tenant.settle()
    with pytest.raises(ToolArgumentError) as err:
        tenant.call_tool("bulk_close_tickets", {"keys": [key], "reason": "again"}, role="admin")
    assert err.value.code == "nothing-to-close"
