"""The whole life of a package in a tenant, with the real example packages, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from fleetprompt_host.engine.directives import DirectiveRequest, request
from fleetprompt_host.engine.inline import run_pending_inline
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import DeliveryRow, DirectiveRow, SignalRow
from fleetprompt_host.tools.runtime import open_catalog
from fleetprompt_sdk.errors import ConflictError, NotFoundError, PermissionDeniedError

TOKEN = "whk-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
STAGES = ["lead", "lost", "proposal", "qualified", "won"]


def _add_contact(db: Database, registry: PackageRegistry, name: str) -> None:
    request(
        db,
        registry,
        "acme",
        DirectiveRequest(
            type="crm.contact.create",
            params={"name": name, "email": f"{name.lower()}@example.com", "stage": "lead"},
            actor="user:alice",
        ),
    )
    run_pending_inline(db, registry, "acme")


def _tools(db: Database, registry: PackageRegistry) -> set[str]:
    catalog = open_catalog(db, registry, "acme", "user:alice")
    return {t["function"]["name"] for t in catalog.openai_tools()}


def _package_signals(db: Database) -> list[tuple[str, str]]:
    with db.tenant_session("acme", readonly=True) as session:
        rows = session.execute(
            select(SignalRow.type, SignalRow.subject_id)
            .where(SignalRow.type.like("package.%"))
            .order_by(SignalRow.seq)
        ).all()
    return [(t, s) for t, s in rows]


def test_install_provisions_records_agents_tools_and_a_signal_trail(
    db: Database, registry: PackageRegistry, ops: Any
) -> None:
    plan = ops.install("helpdesk", f"webhook_token={TOKEN}", with_deps=True)

    assert [(s.package, s.status) for s in plan.steps] == [
        ("crm", "succeeded"),
        ("helpdesk", "succeeded"),
    ]
    assert plan.steps[0].reason == "dependency of helpdesk"
    assert ops.status("crm") == ("installed", "1.0.0")
    assert ops.status("helpdesk") == ("installed", "2.0.0")
    assert ops.views()["helpdesk"].info.secret_fields == ["webhook_token"]
    stages = ops.records("crm", "pipeline_stages")
    assert [r["key"] for r in stages] == STAGES
    assert all(r["provisioned"] for r in stages)
    agents = ops.records("crm", "_agents")
    assert [(a["key"], a["provisioned"]) for a in agents] == [("sales_assistant", True)]
    assert agents[0]["data"]["tools"][0] == "search_contacts"
    assert {"crm__create_contact", "helpdesk__create_ticket"} <= _tools(db, registry)

    trail = _package_signals(db)
    assert trail == [
        ("package.install.requested", "crm"),
        ("package.install.requested", "helpdesk"),
        ("package.install.started", "crm"),
        ("package.install.completed", "crm"),
        ("package.install.started", "helpdesk"),
        ("package.install.completed", "helpdesk"),
    ]
    with db.tenant_session("acme", readonly=True) as session:
        correlations = set(
            session.execute(
                select(SignalRow.correlation_id).where(SignalRow.type.like("package.%"))
            ).scalars()
        )
    assert correlations == {plan.correlation_id}


def test_a_second_identical_request_is_the_same_install(ops: Any, db: Database) -> None:
    first = ops.install("forums", wait=False)
    second = ops.install("forums", wait=False)

    assert first.steps[0].directive_id == second.steps[0].directive_id
    assert (first.steps[0].created, second.steps[0].created) == (True, False)
    assert ops.status("forums") == ("requested", "1.0.0")
    ops.install("forums")
    assert ops.status("forums") == ("installed", "1.0.0")
    again = ops.install("forums")
    assert again.steps[0].noop and not again.pending
    with db.tenant_session("acme", readonly=True) as session:
        installs = session.execute(
            select(DirectiveRow).where(DirectiveRow.type == "package.install")
        ).all()
    assert len(installs) == 1


def test_disable_hides_tools_skips_deliveries_and_refuses_directives_until_enabled(
    db: Database, registry: PackageRegistry, ops: Any
) -> None:
    ops.install("helpdesk", with_deps=True)
    _add_contact(db, registry, "Ada")
    assert len(ops.records("helpdesk", "tickets")) == 1  # the welcome ticket

    ops.toggle("helpdesk", "disable")

    assert ops.status("helpdesk") == ("disabled", "2.0.0")
    tools = _tools(db, registry)
    assert "crm__create_contact" in tools
    assert not any(name.startswith("helpdesk__") for name in tools)
    _add_contact(db, registry, "Bob")
    with db.tenant_session("acme", readonly=True) as session:
        handlers = session.execute(select(DeliveryRow.handler)).scalars().all()
    assert handlers == ["helpdesk:welcome_ticket"]  # only Ada's contact reached it
    assert len(ops.records("helpdesk", "tickets")) == 1
    with pytest.raises(NotFoundError) as refused:
        request(
            db,
            registry,
            "acme",
            DirectiveRequest(
                type="helpdesk.ticket.create", params={"title": "t"}, actor="user:alice"
            ),
        )
    assert refused.value.code == "package-not-installed"

    ops.toggle("helpdesk", "enable")

    assert ops.status("helpdesk") == ("installed", "2.0.0")
    assert "helpdesk__create_ticket" in _tools(db, registry)
    _add_contact(db, registry, "Cy")
    assert len(ops.records("helpdesk", "tickets")) == 2
    assert ops.toggle("helpdesk", "enable").steps[0].noop


def test_uninstall_removes_what_was_provisioned_keeps_user_records_and_reinstall_works(
    db: Database, registry: PackageRegistry, ops: Any
) -> None:
    ops.install("crm")
    _add_contact(db, registry, "Ada")
    ops.install("forums")

    plan = ops.uninstall("crm", dry_run=True)
    assert plan.steps[0].records_remove == {"_agents": 1, "pipeline_stages": 5}
    assert plan.steps[0].records_kept == {"contacts": 1}
    assert ops.status("crm") == ("installed", "1.0.0")

    ops.uninstall("crm")

    assert ops.status("crm") == ("uninstalled", "1.0.0")
    assert [(r["collection"], r["provisioned"]) for r in ops.records("crm")] == [
        ("contacts", False)
    ]
    assert not any(name.startswith("crm__") for name in _tools(db, registry))
    assert ops.status("forums") == ("installed", "1.0.0")

    ops.install("crm")

    assert ops.status("crm") == ("installed", "1.0.0")
    assert [r["key"] for r in ops.records("crm", "pipeline_stages")] == STAGES
    assert len(ops.records("crm", "contacts")) == 1

    ops.uninstall("crm", purge=True)
    assert ops.records("crm") == []


def test_forums_uninstall_hook_runs_and_its_provisioned_thread_goes(ops: Any) -> None:
    ops.install("forums")
    assert {r["collection"] for r in ops.records("forums")} == {
        "_agents",
        "categories",
        "threads",
        "posts",
    }

    result = ops.uninstall("forums")

    assert result.steps[0].status == "succeeded"
    assert ops.records("forums") == []


def test_uninstalling_a_package_others_need_is_refused_unless_cascading(
    db: Database, ops: Any, dump: Any
) -> None:
    ops.install("helpdesk", with_deps=True)
    before = dump(db, "acme")

    with pytest.raises(ConflictError) as refused:
        ops.uninstall("crm")

    assert refused.value.code == "package-required"
    assert "needed by helpdesk" in refused.value.message
    assert dump(db, "acme") == before

    plan = ops.uninstall("crm", cascade=True)

    assert [(s.package, s.status) for s in plan.steps] == [
        ("helpdesk", "succeeded"),
        ("crm", "succeeded"),
    ]
    assert ops.status("helpdesk")[0] == ops.status("crm")[0] == "uninstalled"


def test_lifecycle_operations_need_an_admin(ops: Any, db: Database, dump: Any) -> None:
    before = dump(db, "acme")
    with pytest.raises(PermissionDeniedError) as caught:
        ops.install("forums", actor="user:bob")
    assert caught.value.code == "role-required"
    assert "needs admin" in caught.value.message
    assert dump(db, "acme") == before


def test_a_delivery_made_before_disable_is_not_handled_while_disabled(
    db: Database, registry: PackageRegistry, ops: Any
) -> None:
    from fleetprompt_host.engine.inline import run_directive_now

    ops.install("helpdesk", with_deps=True)
    contact, _ = request(
        db,
        registry,
        "acme",
        DirectiveRequest(
            type="crm.contact.create",
            params={"name": "Ada", "email": "ada@example.com", "stage": "lead"},
            actor="user:alice",
        ),
    )
    assert run_directive_now(db, registry, "acme", contact.id) is not None
    ops.toggle("helpdesk", "disable")

    run_pending_inline(db, registry, "acme")

    with db.tenant_session("acme", readonly=True) as session:
        delivery = session.execute(select(DeliveryRow)).scalar_one()
    assert delivery.status == "dead"
    assert delivery.last_error["code"] == "handler-unavailable"
    assert ops.records("helpdesk", "tickets") == []
