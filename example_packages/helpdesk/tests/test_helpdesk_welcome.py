"""The welcome_ticket handler turns each new CRM contact into one welcome ticket."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_host.engine.queries import SignalFilter
from fleetprompt_host.engine.replay import replay_signals
from fleetprompt_host.testing.plugin import TenantHarness

pytestmark = pytest.mark.fleetprompt(install=["helpdesk"])

GRACE = {"name": "Grace Hopper", "email": "grace@navy.example", "company": "Navy"}


def add_contact(fp_tenant: TenantHarness, **contact: Any) -> str:
    """Create a CRM contact through crm's tool; return its key."""
    outcome = fp_tenant.call_tool("crm__create_contact", contact)
    assert outcome.directive is not None and outcome.directive["status"] == "succeeded", outcome
    key: str = outcome.directive["result"]["key"]
    return key


def test_a_new_crm_contact_gets_a_low_priority_welcome_ticket(fp_tenant: TenantHarness) -> None:
    contact = add_contact(fp_tenant, **GRACE)
    assert fp_tenant.records("tickets") == []

    # One delivery of crm.contact.created to welcome_ticket, then the directive it asked for.
    assert fp_tenant.run_until_idle() == 2

    (created,) = fp_tenant.signals("crm.contact.created")
    (done,) = fp_tenant.directives("helpdesk.ticket.create")
    assert done.status == "succeeded", done.error
    assert (str(done.actor), done.causation_id) == ("system:package.helpdesk", created.id)
    (ticket,) = fp_tenant.records("tickets")
    assert done.result is not None and ticket.key == done.result["key"]
    assert ticket.data["title"] == "Welcome Grace Hopper"
    assert "grace@navy.example" in ticket.data["body"]
    assert (ticket.data["priority"], ticket.data["contact"]) == ("low", contact)


def test_redelivering_the_signal_opens_no_second_ticket(fp_tenant: TenantHarness) -> None:
    add_contact(fp_tenant, **GRACE)
    fp_tenant.run_until_idle()
    (created,) = fp_tenant.signals("crm.contact.created")

    plan = replay_signals(
        fp_tenant.host.db,
        fp_tenant.host.registry,
        fp_tenant.slug,
        SignalFilter(ids=(created.id,)),
        actor=fp_tenant.actor,
    )
    assert [item.handler for item in plan.items] == ["helpdesk:welcome_ticket"]
    # The replayed delivery runs; the directive it requests again is the one that exists.
    assert fp_tenant.run_until_idle() == 1

    assert len(fp_tenant.directives("helpdesk.ticket.create")) == 1
    assert len(fp_tenant.records("tickets")) == 1
    assert len(fp_tenant.signals("helpdesk.ticket.created")) == 1


def test_each_contact_gets_its_own_ticket(fp_tenant: TenantHarness) -> None:
    add_contact(fp_tenant, **GRACE)
    add_contact(fp_tenant, name="Alan Turing", email="alan@bletchley.example")
    fp_tenant.run_until_idle()
    titles = sorted(t.data["title"] for t in fp_tenant.records("tickets"))
    assert titles == ["Welcome Alan Turing", "Welcome Grace Hopper"]
