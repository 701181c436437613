"""Upgrades: helpdesk 1.0 -> 2.0 with real code of both lines, and upgrades that fail."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from fleetprompt_host.engine.directives import DirectiveRequest, request
from fleetprompt_host.engine.inline import run_pending_inline
from fleetprompt_host.installations.secrets import load_keyring
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import InstallationSecretRow, SignalRow
from fleetprompt_host.tools.runtime import open_catalog
from fleetprompt_sdk.errors import ConflictError

OLD_TOKEN = "old-token-6c0e7a2f9b1d4e8a"
NEW_TOKEN = "new-token-3f5d8b2a7c9e1f40"


def _ticket(db: Database, registry: PackageRegistry, title: str, priority: int) -> None:
    request(
        db,
        registry,
        "acme",
        DirectiveRequest(
            type="helpdesk.ticket.create",
            params={"title": title, "priority": priority},
            actor="user:alice",
        ),
    )
    run_pending_inline(db, registry, "acme")


def _trail(db: Database, prefix: str) -> list[str]:
    with db.tenant_session("acme", readonly=True) as session:
        return list(
            session.execute(
                select(SignalRow.type)
                .where(SignalRow.type.like(f"{prefix}%"))
                .order_by(SignalRow.seq)
            ).scalars()
        )


def test_helpdesk_1_to_2_migrates_tickets_and_switches_the_manifest_with_the_version(
    db: Database, registry: PackageRegistry, registry_v1: PackageRegistry, ops_for: Any, tenant: str
) -> None:
    v1, v2 = ops_for(registry_v1), ops_for(registry)
    v1.install("helpdesk")
    _ticket(db, registry_v1, "Printer on fire", 1)
    _ticket(db, registry_v1, "Need a chair", 4)
    assert {r["data"]["status"] for r in v1.records("helpdesk", "tickets")} == {"open"}
    assert "helpdesk__bulk_close_tickets" not in {
        t["function"]["name"]
        for t in open_catalog(db, registry_v1, "acme", "user:alice").openai_tools()
    }

    with pytest.raises(ConflictError) as needs_crm:
        v2.upgrade("helpdesk")
    assert needs_crm.value.code == "missing-dependency"
    dry = v2.upgrade("helpdesk", with_deps=True, dry_run=True)
    assert [(s.action, s.package) for s in dry.steps] == [
        ("install", "crm"),
        ("upgrade", "helpdesk"),
    ]
    assert dry.steps[1].from_version == "1.0.0" and dry.steps[1].version == "2.0.0"
    assert dry.steps[1].tools_added == ["bulk_close_tickets"]
    assert v2.status("helpdesk") == ("installed", "1.0.0")

    plan = v2.upgrade("helpdesk", with_deps=True)

    assert [s.status for s in plan.steps] == ["succeeded", "succeeded"]
    assert v2.status("helpdesk") == ("installed", "2.0.0")
    tickets = {r["data"]["title"]: r for r in v2.records("helpdesk", "tickets")}
    assert tickets["Printer on fire"]["data"]["priority"] == "urgent"
    assert tickets["Need a chair"]["data"]["priority"] == "low"
    assert all(r["data"]["state"] == "open" and "status" not in r["data"] for r in tickets.values())
    # Rewritten by the upgrade hook, they stay users' records: an uninstall keeps them.
    assert not any(r["provisioned"] for r in tickets.values())
    with db.tenant_session("acme", readonly=True) as session:
        from fleetprompt_host.installations.status import show_installation

        shown = show_installation(session, "helpdesk")
    assert "bulk_close_tickets" in shown["tools"]
    assert shown["records"]["tickets"] == {"provisioned": 0, "user": 2}
    assert _trail(db, "package.upgrade.") == [
        "package.upgrade.requested",
        "package.upgrade.started",
        "package.upgrade.completed",
    ]
    assert v2.upgrade("helpdesk").steps[0].noop


def test_reconfiguring_a_secret_is_an_upgrade_to_the_same_version(db: Database, ops: Any) -> None:
    ops.install("helpdesk", f"webhook_token={OLD_TOKEN}", with_deps=True)

    dry = ops.upgrade("helpdesk", f"webhook_token={NEW_TOKEN}", dry_run=True)
    assert dry.steps[0].config_changes == [
        {"field": "webhook_token", "change": "changed", "secret": True}
    ]
    ops.upgrade("helpdesk", f"webhook_token={NEW_TOKEN}")

    with db.tenant_session("acme", readonly=True) as session:
        rows = session.execute(select(InstallationSecretRow)).scalars().all()
        assert len(rows) == 1
        plain = load_keyring().decrypt(
            rows[0].ciphertext, f"acme/helpdesk/webhook_token/{rows[0].ref}"
        )
    assert plain == NEW_TOKEN
    unchanged = ops.upgrade("helpdesk")
    assert unchanged.steps[0].noop

    ops.upgrade("helpdesk", unsets=("webhook_token",))
    assert ops.views()["helpdesk"].info.secret_fields == []


def _versions(make_package: Any, *, fail: bool) -> tuple[Any, Any]:
    def migrate(ctx: Any, from_version: str, to_version: str) -> None:
        for record in ctx.records.find("notes"):
            ctx.records.put("notes", {"text": record.data["text"].upper()}, key=record.key)
        if fail:
            raise RuntimeError("migration bug")

    old = make_package("notes", version="1.0.0", permissions=["records:read", "records:write"])
    new = make_package(
        "notes",
        version="2.0.0",
        upgrade=migrate,
        seed=[{"collection": "notes", "key": "readme", "data": {"text": "new in 2"}}],
        agents=[{"name": "scribe", "system_prompt": "Take notes."}],
    )
    return old, new


def _user_note(db: Database, ops: Any) -> None:
    from fleetprompt_host.storage.models import RecordRow

    with db.tenant_session("acme") as session:
        session.add(RecordRow(package="notes", collection="notes", key="n1", data={"text": "hi"}))


def test_an_upgrade_adds_new_seed_records_and_agent_profiles(
    db: Database, make_package: Any, extend_registry: Any, ops_for: Any, tenant: str
) -> None:
    old, new = _versions(make_package, fail=False)
    before, after = ops_for(extend_registry(old)), ops_for(extend_registry(new))
    before.install("notes")
    _user_note(db, before)

    after.upgrade("notes")

    records = {(r["collection"], r["key"]): r for r in after.records("notes")}
    assert records[("notes", "n1")]["data"] == {"text": "HI"}
    assert not records[("notes", "n1")]["provisioned"]
    assert records[("notes", "readme")]["provisioned"]
    assert records[("_agents", "scribe")]["provisioned"]


def test_a_failing_upgrade_leaves_the_old_version_and_its_records(
    db: Database, make_package: Any, extend_registry: Any, ops_for: Any, tenant: str, dump: Any
) -> None:
    old, new = _versions(make_package, fail=True)
    before, after = ops_for(extend_registry(old)), ops_for(extend_registry(new))
    before.install("notes")
    _user_note(db, before)
    records = before.records("notes")

    plan = after.upgrade("notes")

    step = plan.steps[0]
    assert step.status == "failed"
    assert step.error["code"] == "upgrade-hook-failed"
    assert "migration bug" in step.error["message"]
    view = after.views()["notes"]
    assert (view.info.status, view.info.version) == ("installed", "1.0.0")
    assert view.info.error["action"] == "upgrade"
    assert after.records("notes") == records
    with db.tenant_session("acme", readonly=True) as session:
        from fleetprompt_host.installations.status import show_installation

        assert show_installation(session, "notes")["tools"] == []
    assert _trail(db, "package.upgrade.") == [
        "package.upgrade.requested",
        "package.upgrade.failed",
    ]
    # Asking again is a new directive (the failure moved the installation's revision on).
    again = after.upgrade("notes")
    assert again.steps[0].directive_id != step.directive_id
    assert again.steps[0].status == "failed"


def test_downgrades_are_refused(
    make_package: Any, extend_registry: Any, ops_for: Any, tenant: str
) -> None:
    old, new = _versions(make_package, fail=False)
    ops_for(extend_registry(new)).install("notes")

    with pytest.raises(ConflictError) as caught:
        ops_for(extend_registry(old)).upgrade("notes")

    assert caught.value.code == "downgrade-refused"
