"""Contacts: read tools read, write tools request directives, handlers write and emit."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_sdk import DirectiveStatus, ToolArgumentError

ADA = {"name": "Ada Lovelace", "email": "Ada@Analytical.example", "company": "Analytical Engines"}


def create(tenant: Any, **overrides: Any) -> Any:
    """Create a contact through the tool and run the directive; return the directive."""
    ref = tenant.call_tool("create_contact", {**ADA, **overrides})
    tenant.settle()
    return tenant.directives[ref.id]


def test_install_seeds_the_default_pipeline_stages_as_provisioned_records(tenant: Any) -> None:
    stages = tenant.data("pipeline_stages")
    assert sorted(stages, key=lambda k: stages[k]["position"]) == [
        "lead",
        "qualified",
        "proposal",
        "won",
        "lost",
    ]
    assert all(r.provisioned for r in tenant.records.values())


def test_create_contact_tool_only_requests_a_directive(tenant: Any) -> None:
    before = dict(tenant.records)
    ref = tenant.call_tool("create_contact", ADA)
    assert ref.type == "crm.contact.create"
    assert ref.status == DirectiveStatus.REQUESTED
    assert "Ada Lovelace <ada@analytical.example>" in ref.preview
    assert tenant.records == before
    assert tenant.signals == []
    assert tenant.directives[ref.id].params["email"] == "ada@analytical.example"


def test_create_directive_writes_contact_and_company_and_emits_created(tenant: Any) -> None:
    done = create(tenant)
    assert done.status == DirectiveStatus.SUCCEEDED, done.error
    key = done.result["key"]
    assert tenant.data("contacts")[key] == {
        "name": "Ada Lovelace",
        "email": "ada@analytical.example",
        "phone": None,
        "company": "analytical-engines",
        "stage": "lead",
    }
    assert tenant.data("companies") == {
        "analytical-engines": {"name": "Analytical Engines", "domain": None}
    }
    (signal,) = tenant.signals
    assert signal.type == "crm.contact.created"
    assert str(signal.subject) == f"contact:{key}"
    assert signal.data["key"] == key
    assert done.idempotency_key in signal.dedupe_key


def test_retrying_a_create_directive_writes_one_contact_and_one_signal(tenant: Any) -> None:
    done = create(tenant)
    # As if the acknowledgement were lost and the runner ran the directive again.
    tenant.directives[done.id] = done.model_copy(update={"status": DirectiveStatus.REQUESTED})
    again = tenant.run(done.id)
    assert again.status == DirectiveStatus.SUCCEEDED
    assert again.result == done.result
    assert len(tenant.data("contacts")) == 1
    assert len(tenant.signals) == 1


def test_read_tools_find_and_spell_out_a_contact(tenant: Any) -> None:
    key = create(tenant).result["key"]
    found = tenant.call_tool("search_contacts", {"query": "analytical.example"})
    assert [c["key"] for c in found] == [key]
    contact = tenant.call_tool("get_contact", {"key": key})
    assert contact["company_detail"]["name"] == "Analytical Engines"
    lead = {"key": "lead", "name": "Lead", "position": 1, "closed": False}
    assert contact["stage_detail"] == lead
    companies = tenant.call_tool("list_companies", {"query": "engines"})
    assert [c["key"] for c in companies] == ["analytical-engines"]


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"email": "ADA@analytical.example"}, "contact-exists"),
        ({"email": "grace@navy.example", "stage": "negotiation"}, "unknown-stage"),
    ],
)
def test_create_contact_refuses_what_the_model_can_fix_and_requests_nothing(
    tenant: Any, arguments: dict[str, Any], code: str
) -> None:
    create(tenant)
    requested = len(tenant.directives)
    with pytest.raises(ToolArgumentError) as err:
        tenant.call_tool("create_contact", {**ADA, **arguments})
    assert err.value.code == code
    assert len(tenant.directives) == requested


def test_invalid_arguments_name_the_field(tenant: Any) -> None:
    with pytest.raises(ToolArgumentError) as err:
        tenant.call_tool("create_contact", {"name": "Ada", "email": "not-an-email"})
    assert [p.path for p in err.value.problems] == ["email"]
    assert tenant.directives == {}


def test_email_taken_between_tool_call_and_run_fails_the_second_directive_cleanly(
    tenant: Any,
) -> None:
    first = tenant.call_tool("create_contact", ADA)
    second = tenant.call_tool("create_contact", {**ADA, "company": "Babbage & Co"})
    tenant.settle()
    assert tenant.directives[first.id].status == DirectiveStatus.SUCCEEDED
    failed = tenant.directives[second.id]
    assert failed.status == DirectiveStatus.FAILED
    assert failed.error["code"] == "conflict"
    assert "babbage-co" not in tenant.data("companies")
    assert len(tenant.signals) == 1


def test_update_contact_changes_given_fields_and_emits_previous_values(tenant: Any) -> None:
    key = create(tenant).result["key"]
    ref = tenant.call_tool("update_contact", {"key": key, "stage": "won", "company": "Babbage"})
    assert "stage: 'lead' -> 'won'" in ref.preview
    tenant.settle()
    assert tenant.directives[ref.id].result == {"key": key, "changed": ["company", "stage"]}
    contact = tenant.data("contacts")[key]
    assert contact["stage"] == "won"
    assert contact["company"] == "babbage"
    assert contact["name"] == "Ada Lovelace"
    updated = tenant.signals[-1]
    assert updated.type == "crm.contact.updated"
    assert updated.data["changes"] == {"stage": "won", "company": "babbage"}
    assert updated.data["previous"] == {"stage": "lead", "company": "analytical-engines"}


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({}, "no-changes"),
        ({"key": "contact_missing", "stage": "won"}, "contact-not-found"),
        ({"stage": "negotiation"}, "unknown-stage"),
    ],
)
def test_update_contact_refusals(tenant: Any, arguments: dict[str, Any], code: str) -> None:
    key = create(tenant).result["key"]
    with pytest.raises(ToolArgumentError) as err:
        tenant.call_tool("update_contact", {"key": key, **arguments})
    assert err.value.code == code
