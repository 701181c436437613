"""The welcome_ticket handler turns each new CRM contact into one welcome ticket."""

from __future__ import annotations

from typing import Any

from fleetprompt_sdk import DirectiveStatus
from fleetprompt_sdk.models import Subject

CONTACT = {
    "key": "contact_1",
    "name": "Grace Hopper",
    "email": "grace@navy.example",
    "phone": None,
    "company": "navy",
    "stage": "lead",
}


def contact_created(tenant: Any) -> Any:
    """Record the signal crm emits for a new contact."""
    return tenant.record_signal(
        "crm.contact.created",
        CONTACT,
        source="crm",
        subject=Subject(type="contact", id=CONTACT["key"]),
    )


def test_a_new_crm_contact_gets_a_low_priority_welcome_ticket(tenant: Any) -> None:
    contact_created(tenant)
    (done,) = tenant.settle()
    assert done.type == "helpdesk.ticket.create"
    assert done.status == DirectiveStatus.SUCCEEDED, done.error
    ticket = tenant.data("tickets")[done.result["key"]]
    assert ticket["title"] == "Welcome Grace Hopper"
    assert (ticket["priority"], ticket["contact"]) == ("low", "contact_1")


def test_redelivering_the_signal_opens_no_second_ticket(tenant: Any) -> None:
    signal = contact_created(tenant)
    tenant.settle()
    tenant.deliver(signal)
    assert tenant.settle() == []
    assert len(tenant.directives) == 1
    assert len(tenant.data("tickets")) == 1


def test_each_contact_gets_its_own_ticket(tenant: Any) -> None:
    contact_created(tenant)
    tenant.record_signal(
        "crm.contact.created", {**CONTACT, "key": "contact_2", "name": "Alan"}, source="crm"
    )
    tenant.settle()
    titles = sorted(t["title"] for t in tenant.data("tickets").values())
    assert titles == ["Welcome Alan", "Welcome Grace Hopper"]
