"""Tickets: opening, listing, bulk closing with confirmation and an admin role."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_host.host import ToolOutcome
from fleetprompt_host.testing.plugin import TenantHarness
from fleetprompt_sdk import PermissionDeniedError

pytestmark = pytest.mark.fleetprompt(install=["helpdesk"])


def open_ticket(fp_tenant: TenantHarness, title: str, priority: str = "normal") -> str:
    """Open a ticket through the tool (its directive runs at once); return its key."""
    outcome = fp_tenant.call_tool("create_ticket", {"title": title, "priority": priority})
    assert outcome.directive is not None and outcome.directive["status"] == "succeeded", outcome
    key: str = outcome.directive["result"]["key"]
    return key


def queue(
    fp_tenant: TenantHarness, tool: str, arguments: dict[str, Any], **options: Any
) -> ToolOutcome:
    """Call a tool the way a worker deployment does: the directive is requested, not run."""
    return fp_tenant.host.call_tool(
        fp_tenant.slug, f"helpdesk__{tool}", arguments, run_inline=False, **options
    )


def tickets(fp_tenant: TenantHarness) -> dict[str, dict[str, Any]]:
    """Return ``{key: data}`` of the tenant's tickets."""
    return {r.key: r.data for r in fp_tenant.records("tickets")}


@pytest.fixture
def admin(fp_tenant: TenantHarness) -> str:
    """An admin of the tenant."""
    return fp_tenant.as_user("ada", "admin")


def test_create_ticket_opens_a_ticket_and_emits_created(fp_tenant: TenantHarness) -> None:
    alice = fp_tenant.as_user("alice", "member")
    outcome = queue(
        fp_tenant, "create_ticket", {"title": "Printer on fire", "priority": "urgent"}, actor=alice
    )
    assert outcome.directive is not None
    assert outcome.directive["preview"] == "Open urgent ticket: Printer on fire"
    assert tickets(fp_tenant) == {}

    fp_tenant.run_until_idle()

    (done,) = fp_tenant.directives("helpdesk.ticket.create")
    assert done.result is not None
    key = done.result["key"]
    assert done.result == {"key": key, "notified": False}
    assert tickets(fp_tenant) == {
        key: {
            "title": "Printer on fire",
            "body": "",
            "state": "open",
            "priority": "urgent",
            "contact": None,
            "opened_by": "user:alice",
            "closed_reason": None,
        }
    }
    (signal,) = fp_tenant.signals("helpdesk.**")
    assert (signal.type, str(signal.subject), str(signal.actor)) == (
        "helpdesk.ticket.created",
        f"ticket:{key}",
        "user:alice",
    )


def test_list_tickets_filters_by_state_and_priority(fp_tenant: TenantHarness) -> None:
    low = open_ticket(fp_tenant, "Typo on the invoice", "low")
    high = open_ticket(fp_tenant, "Cannot log in", "high")

    def listed(arguments: dict[str, Any]) -> list[str]:
        outcome = fp_tenant.call_tool("list_tickets", arguments)
        assert outcome.ok, outcome.error
        return sorted(t["key"] for t in outcome.output)

    assert listed({}) == sorted([low, high])
    assert listed({"priority": "high"}) == [high]
    assert listed({"state": "closed"}) == []
    assert fp_tenant.call_tool("get_ticket", {"key": low}).output["title"] == "Typo on the invoice"


def test_unknown_ticket_is_an_error_the_model_can_correct(fp_tenant: TenantHarness) -> None:
    outcome = fp_tenant.call_tool("get_ticket", {"key": "ticket_nope"})
    assert not outcome.ok
    assert outcome.error is not None and outcome.error["code"] == "ticket-not-found"


def test_a_member_cannot_bulk_close_and_nothing_is_requested(fp_tenant: TenantHarness) -> None:
    key = open_ticket(fp_tenant, "Cannot log in")
    bo = fp_tenant.as_user("bo", "member")
    assert "helpdesk__bulk_close_tickets" not in fp_tenant.tools(bo)

    outcome = fp_tenant.call_tool(
        "bulk_close_tickets", {"keys": [key], "reason": "fixed"}, actor=bo, confirm=True
    )
    assert outcome.error is not None and outcome.error["code"] == "tool-not-available"
    assert "admin" in outcome.error["message"]
    with pytest.raises(PermissionDeniedError):
        fp_tenant.request_directive(
            "helpdesk.tickets.bulk_close", {"keys": [key], "reason": "fixed"}, actor=bo
        )
    assert fp_tenant.directives("helpdesk.tickets.bulk_close") == []
    assert tickets(fp_tenant)[key]["state"] == "open"


def test_an_admin_must_confirm_a_bulk_close_or_nothing_is_requested(
    fp_tenant: TenantHarness, admin: str
) -> None:
    key = open_ticket(fp_tenant, "Cannot log in")
    outcome = fp_tenant.call_tool(
        "bulk_close_tickets", {"keys": [key], "reason": "fixed"}, actor=admin
    )
    assert outcome.error is not None and outcome.error["code"] == "confirmation-required"
    assert fp_tenant.directives("helpdesk.tickets.bulk_close") == []
    assert tickets(fp_tenant)[key]["state"] == "open"


def test_bulk_close_previews_the_open_tickets_then_closes_each_with_a_signal(
    fp_tenant: TenantHarness, admin: str
) -> None:
    first = open_ticket(fp_tenant, "Cannot log in")
    second = open_ticket(fp_tenant, "Password reset loops")
    arguments = {"keys": [first, second, first], "reason": "fixed by SSO rollout"}
    outcome = queue(fp_tenant, "bulk_close_tickets", arguments, actor=admin, confirm=True)
    assert outcome.directive is not None
    preview = outcome.directive["preview"]
    assert preview.startswith("Close 2 ticket(s) because 'fixed by SSO rollout'")
    assert "Password reset loops" in preview
    (requested,) = fp_tenant.directives("helpdesk.tickets.bulk_close")
    assert requested.params["keys"] == [first, second]

    fp_tenant.run_until_idle()

    (done,) = fp_tenant.directives("helpdesk.tickets.bulk_close")
    assert done.result == {"closed": [first, second], "already_closed": [], "missing": []}
    for key in (first, second):
        assert tickets(fp_tenant)[key]["state"] == "closed"
        assert tickets(fp_tenant)[key]["closed_reason"] == "fixed by SSO rollout"
    closed = fp_tenant.signals("helpdesk.ticket.closed")
    assert [s.data["key"] for s in closed] == [first, second]


def test_tickets_closed_before_the_bulk_close_runs_are_reported_not_closed_twice(
    fp_tenant: TenantHarness, admin: str
) -> None:
    first = open_ticket(fp_tenant, "Cannot log in")
    second = open_ticket(fp_tenant, "Password reset loops")
    pending = queue(
        fp_tenant,
        "bulk_close_tickets",
        {"keys": [first, second], "reason": "batch"},
        actor=admin,
        confirm=True,
    )
    early = fp_tenant.call_tool(
        "bulk_close_tickets", {"keys": [first], "reason": "early"}, actor=admin, confirm=True
    )
    assert early.directive is not None and early.directive["status"] == "succeeded"

    fp_tenant.run_until_idle()

    assert pending.directive is not None
    done = {d.id: d for d in fp_tenant.directives("helpdesk.tickets.bulk_close")}
    assert done[pending.directive["id"]].result == {
        "closed": [second],
        "already_closed": [first],
        "missing": [],
    }
    assert tickets(fp_tenant)[first]["closed_reason"] == "early"
    assert len(fp_tenant.signals("helpdesk.ticket.closed")) == 2


def test_bulk_close_of_only_closed_tickets_is_refused(fp_tenant: TenantHarness, admin: str) -> None:
    key = open_ticket(fp_tenant, "Cannot log in")
    fp_tenant.call_tool(
        "bulk_close_tickets", {"keys": [key], "reason": "fixed"}, actor=admin, confirm=True
    )
    outcome = fp_tenant.call_tool(
        "bulk_close_tickets", {"keys": [key], "reason": "again"}, actor=admin, confirm=True
    )
    assert outcome.error is not None and outcome.error["code"] == "nothing-to-close"
    assert len(fp_tenant.directives("helpdesk.tickets.bulk_close")) == 1
