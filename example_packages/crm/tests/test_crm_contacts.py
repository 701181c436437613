"""Contacts: read tools read, write tools request directives, handlers write and emit."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_host.engine.directives import rerun_directive
from fleetprompt_host.host import ToolOutcome
from fleetprompt_host.testing.plugin import TenantHarness

pytestmark = pytest.mark.fleetprompt(install=["crm"])

ADA = {"name": "Ada Lovelace", "email": "Ada@Analytical.example", "company": "Analytical Engines"}


def create(fp_tenant: TenantHarness, **overrides: Any) -> dict[str, Any]:
    """Create a contact through the tool (its directive runs at once); return the directive."""
    outcome = fp_tenant.call_tool("create_contact", {**ADA, **overrides})
    assert outcome.ok, outcome.error
    assert outcome.directive is not None and outcome.directive["status"] == "succeeded"
    return outcome.directive


def queue(fp_tenant: TenantHarness, tool: str, arguments: dict[str, Any]) -> ToolOutcome:
    """Call a tool the way a worker deployment does: the directive is requested, not run."""
    return fp_tenant.host.call_tool(fp_tenant.slug, f"crm__{tool}", arguments, run_inline=False)


def contacts(fp_tenant: TenantHarness) -> dict[str, dict[str, Any]]:
    """Return ``{key: data}`` of the tenant's contacts."""
    return {r.key: r.data for r in fp_tenant.records("contacts")}


def test_create_contact_requests_a_directive_and_nothing_changes_until_it_runs(
    fp_tenant: TenantHarness,
) -> None:
    outcome = queue(fp_tenant, "create_contact", ADA)
    assert outcome.ok, outcome.error
    assert outcome.directive is not None
    assert (outcome.directive["type"], outcome.directive["status"]) == (
        "crm.contact.create",
        "requested",
    )
    assert "Ada Lovelace <ada@analytical.example>" in outcome.directive["preview"]
    (requested,) = fp_tenant.directives("crm.contact.create")
    assert requested.params["email"] == "ada@analytical.example"
    assert contacts(fp_tenant) == {}
    assert fp_tenant.signals("crm.**") == []

    fp_tenant.run_until_idle()

    assert len(contacts(fp_tenant)) == 1
    assert fp_tenant.directives("crm.contact.create")[0].status == "succeeded"


def test_create_directive_writes_contact_and_company_and_emits_created(
    fp_tenant: TenantHarness,
) -> None:
    done = create(fp_tenant)
    key = done["result"]["key"]
    assert contacts(fp_tenant) == {
        key: {
            "name": "Ada Lovelace",
            "email": "ada@analytical.example",
            "phone": None,
            "company": "analytical-engines",
            "stage": "lead",
        }
    }
    companies = fp_tenant.records("companies")
    assert [(c.key, c.data) for c in companies] == [
        ("analytical-engines", {"name": "Analytical Engines", "domain": None})
    ]
    assert not any(c.provisioned for c in companies)
    (signal,) = fp_tenant.signals("crm.**")
    (directive,) = fp_tenant.directives("crm.contact.create")
    assert (signal.type, signal.source, str(signal.subject)) == (
        "crm.contact.created",
        "crm",
        f"contact:{key}",
    )
    assert signal.data["key"] == key
    assert signal.causation_id == directive.id
    assert signal.dedupe_key is not None and directive.idempotency_key in signal.dedupe_key


def test_rerunning_a_succeeded_create_directive_writes_one_contact_and_one_signal(
    fp_tenant: TenantHarness,
) -> None:
    done = create(fp_tenant)
    # An operator's `directives rerun`: the handler runs again with the same key.
    with fp_tenant.host.db.tenant_session(fp_tenant.slug) as session:
        rerun_directive(session, fp_tenant.host.registry, fp_tenant.slug, done["id"], "user:owner")
    assert fp_tenant.run_until_idle() == 1

    (again,) = fp_tenant.directives("crm.contact.create")
    assert (again.status, again.attempts) == ("succeeded", 2)
    assert again.result == done["result"]
    assert len(contacts(fp_tenant)) == 1
    assert len(fp_tenant.records("companies")) == 1
    assert len(fp_tenant.signals("crm.contact.created")) == 1


def test_read_tools_find_and_spell_out_a_contact(fp_tenant: TenantHarness) -> None:
    key = create(fp_tenant)["result"]["key"]
    found = fp_tenant.call_tool("search_contacts", {"query": "analytical.example"})
    assert [c["key"] for c in found.output] == [key]
    contact = fp_tenant.call_tool("get_contact", {"key": key}).output
    assert contact["company_detail"]["name"] == "Analytical Engines"
    lead = {"key": "lead", "name": "Lead", "position": 1, "closed": False}
    assert contact["stage_detail"] == lead
    companies = fp_tenant.call_tool("list_companies", {"query": "engines"}).output
    assert [c["key"] for c in companies] == ["analytical-engines"]


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"email": "ADA@analytical.example"}, "contact-exists"),
        ({"email": "grace@navy.example", "stage": "negotiation"}, "unknown-stage"),
        ({"email": "not-an-email"}, "tool-arguments-invalid"),
    ],
)
def test_create_contact_refuses_what_the_model_can_fix_and_requests_nothing(
    fp_tenant: TenantHarness, arguments: dict[str, Any], code: str
) -> None:
    create(fp_tenant)
    outcome = fp_tenant.call_tool("create_contact", {**ADA, **arguments})
    assert not outcome.ok
    assert outcome.error is not None and outcome.error["code"] == code
    assert outcome.directive is None
    assert len(fp_tenant.directives("crm.contact.create")) == 1


def test_invalid_arguments_name_the_field(fp_tenant: TenantHarness) -> None:
    outcome = fp_tenant.call_tool("create_contact", {"name": "Ada", "email": "not-an-email"})
    assert outcome.error is not None
    assert [p["path"] for p in outcome.error["problems"]] == ["email"]
    assert fp_tenant.directives("crm.contact.create") == []


def test_email_taken_between_tool_call_and_run_fails_the_second_directive_cleanly(
    fp_tenant: TenantHarness,
) -> None:
    first = queue(fp_tenant, "create_contact", ADA)
    second = queue(fp_tenant, "create_contact", {**ADA, "company": "Babbage & Co"})
    assert first.directive is not None and second.directive is not None

    fp_tenant.run_until_idle()

    status = {d.id: d for d in fp_tenant.directives("crm.contact.create")}
    assert status[first.directive["id"]].status == "succeeded"
    failed = status[second.directive["id"]]
    assert failed.status == "failed"
    assert failed.error is not None and failed.error["code"] == "conflict"
    # The failed run's company was rolled back with it.
    assert [c.key for c in fp_tenant.records("companies")] == ["analytical-engines"]
    assert len(fp_tenant.signals("crm.contact.created")) == 1


def test_update_contact_changes_given_fields_and_emits_previous_values(
    fp_tenant: TenantHarness,
) -> None:
    key = create(fp_tenant)["result"]["key"]
    outcome = fp_tenant.call_tool(
        "update_contact", {"key": key, "stage": "won", "company": "Babbage"}
    )
    assert outcome.directive is not None
    assert "stage: 'lead' -> 'won'" in outcome.directive["preview"]
    assert outcome.directive["result"] == {"key": key, "changed": ["company", "stage"]}
    contact = contacts(fp_tenant)[key]
    assert (contact["stage"], contact["company"], contact["name"]) == (
        "won",
        "babbage",
        "Ada Lovelace",
    )
    updated = fp_tenant.signals("crm.contact.*")[-1]
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
def test_update_contact_refusals_request_nothing(
    fp_tenant: TenantHarness, arguments: dict[str, Any], code: str
) -> None:
    key = create(fp_tenant)["result"]["key"]
    outcome = fp_tenant.call_tool("update_contact", {"key": key, **arguments})
    assert outcome.error is not None and outcome.error["code"] == code
    assert fp_tenant.directives("crm.contact.update") == []
