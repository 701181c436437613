"""Bad input: each a typed error naming what is wrong; nothing written, or a recorded failure."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from fleetprompt_host.engine.inline import run_pending_inline
from fleetprompt_host.registry import BrokenPackage, Origin, PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import SignalRow
from fleetprompt_sdk.errors import FleetPromptError


def _broken_registry(registry: PackageRegistry) -> PackageRegistry:
    out = PackageRegistry()
    crm = registry.get("crm")
    out.register(crm.plugin, crm.manifest)
    out.mark_broken(
        BrokenPackage("wobbly", "1.0.0", Origin(), "import-failed", "cannot import: boom")
    )
    return out


REFUSALS = [
    ("nosuchpkg", (), "package-not-found", "nosuchpkg"),
    ("helpdesk==9.9", (), "version-unavailable", "helpdesk==9.9"),
    ("helpdesk", ("webhook_url=ftp://example.com",), "config-invalid", "config.webhook_url"),
    ("helpdesk", ("colour=red",), "config-invalid", "config.colour"),
    ("helpdesk", ("webhook_token=",), "config-invalid", "config.webhook_token"),
    ("helpdesk", (), "missing-dependency", "crm"),
    ("Helpdesk", (), "invalid-requirement", "Helpdesk"),
]


@pytest.mark.parametrize(("requirement", "sets", "code", "named"), REFUSALS)
def test_refused_installs_name_the_problem_and_write_nothing(
    db: Database,
    ops: Any,
    dump: Any,
    requirement: str,
    sets: tuple[str, ...],
    code: str,
    named: str,
) -> None:
    before = dump(db, "acme")

    with pytest.raises(FleetPromptError) as caught:
        ops.install(requirement, *sets)

    assert caught.value.code == code
    assert named in caught.value.message
    assert dump(db, "acme") == before


def test_an_incompatible_host_is_refused_before_anything_is_written(
    db: Database, make_package: Any, extend_registry: Any, ops_for: Any, tenant: str, dump: Any
) -> None:
    future = make_package("future", requires_fleetprompt=">=99")
    before = dump(db, "acme")

    with pytest.raises(FleetPromptError) as caught:
        ops_for(extend_registry(future)).install("future")

    assert caught.value.code == "incompatible-host"
    assert ">=99" in caught.value.message
    assert dump(db, "acme") == before


def test_a_broken_package_is_refused_with_its_reason(
    db: Database, registry: PackageRegistry, ops_for: Any, tenant: str, dump: Any
) -> None:
    before = dump(db, "acme")
    with pytest.raises(FleetPromptError) as caught:
        ops_for(_broken_registry(registry)).install("wobbly")
    assert caught.value.code == "package-broken"
    assert "cannot import: boom" in caught.value.message
    assert dump(db, "acme") == before


def test_an_install_hook_that_raises_marks_the_installation_failed_and_changes_no_data(
    db: Database, make_package: Any, extend_registry: Any, ops_for: Any, tenant: str, dump: Any
) -> None:
    def explode(ctx: Any) -> None:
        ctx.records.put("notes", {"text": "half-way"}, key="partial")
        raise KeyError("missing setting")

    broken = make_package(
        "notes",
        install=explode,
        seed=[{"collection": "notes", "key": "welcome", "data": {"text": "hello"}}],
    )
    ops = ops_for(extend_registry(broken))
    before = dump(db, "acme", skip=("installations", "directives", "signals", "executions",
                                    "execution_steps", "counters"))  # fmt: skip

    plan = ops.install("notes")

    step = plan.steps[0]
    assert step.status == "failed"
    assert step.error["code"] == "install-hook-failed"
    assert "missing setting" in step.error["message"]
    view = ops.views()["notes"]
    assert view.info.status == "failed"
    assert view.info.error["code"] == "install-hook-failed"
    assert view.info.error["directive_id"] == step.directive_id
    assert ops.records("notes") == []
    assert dump(db, "acme", skip=("installations", "directives", "signals", "executions",
                                  "execution_steps", "counters")) == before  # fmt: skip
    with db.tenant_session("acme", readonly=True) as session:
        trail = session.execute(
            select(SignalRow.type).where(SignalRow.type.like("package.%")).order_by(SignalRow.seq)
        ).scalars()
        assert list(trail) == ["package.install.requested", "package.install.failed"]


def test_a_failed_install_can_be_retried_once_the_package_is_fixed(
    db: Database, make_package: Any, extend_registry: Any, ops_for: Any, tenant: str
) -> None:
    calls: list[str] = []

    def flaky(ctx: Any) -> None:
        calls.append("install")
        if len(calls) == 1:
            raise RuntimeError("first time unlucky")
        ctx.records.put("notes", {"text": "ok"}, key="made-by-hook")

    ops = ops_for(extend_registry(make_package("notes", install=flaky)))
    first = ops.install("notes")
    assert first.steps[0].status == "failed"

    second = ops.install("notes")

    assert second.steps[0].directive_id != first.steps[0].directive_id
    assert second.steps[0].status == "succeeded"
    assert ops.status("notes") == ("installed", "1.0.0")
    assert ops.views()["notes"].info.error is None
    assert [(r["key"], r["provisioned"]) for r in ops.records("notes")] == [("made-by-hook", True)]


def test_a_package_that_changed_version_before_its_install_ran_fails_clearly(
    db: Database, make_package: Any, extend_registry: Any, ops_for: Any, tenant: str
) -> None:
    requested = ops_for(extend_registry(make_package("notes", version="1.0.0")))
    plan = requested.install("notes", wait=False)
    newer = extend_registry(make_package("notes", version="1.1.0"))

    run_pending_inline(db, newer, "acme")

    view = ops_for(newer).views()["notes"]
    assert view.info.status == "failed"
    assert view.info.error["code"] == "version-changed"
    assert view.info.error["directive_id"] == plan.steps[0].directive_id


def test_a_different_config_for_an_installed_package_points_to_upgrade(
    db: Database, ops: Any, dump: Any
) -> None:
    ops.install("helpdesk", with_deps=True)
    before = dump(db, "acme")

    with pytest.raises(FleetPromptError) as caught:
        ops.install("helpdesk", "webhook_url=https://hooks.example.com/x")

    assert caught.value.code == "already-installed"
    assert "fleetprompt upgrade" in caught.value.message
    assert dump(db, "acme") == before


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        (lambda ops: ops.uninstall("crm"), "not-installed"),
        (lambda ops: ops.upgrade("crm"), "not-installed"),
        (lambda ops: ops.toggle("crm", "disable"), "not-installed"),
    ],
)
def test_operations_on_packages_that_are_not_installed_are_refused(
    db: Database, ops: Any, dump: Any, operation: Any, code: str
) -> None:
    before = dump(db, "acme")
    with pytest.raises(FleetPromptError) as caught:
        operation(ops)
    assert caught.value.code == code
    assert "crm" in caught.value.message
    assert dump(db, "acme") == before
