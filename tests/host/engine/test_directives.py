"""Requesting, canceling and rerunning directives, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from fleetprompt_host.engine.directives import cancel_directive, rerun_directive
from fleetprompt_host.engine.host_directives import (
    HostDirectiveType,
    register_host_directive,
    unregister_host_directive,
)
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import DirectiveRow, SignalRow
from fleetprompt_sdk.enums import DirectiveStatus, Role
from fleetprompt_sdk.errors import (
    ConflictError,
    FleetPromptError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

from .conftest import all_at_once


def test_a_request_records_the_directive_and_its_requested_signal_together(engine: Any) -> None:
    directive = engine.request(params={"item": "tea", "qty": 2})
    assert directive.status is DirectiveStatus.REQUESTED
    row = engine.directive(directive.id)
    assert (row.actor, row.role, row.attempts, row.max_attempts) == (engine.owner, "owner", 0, 3)
    [signal] = engine.signals()
    assert signal.type == "directive.requested"
    assert (signal.subject_type, signal.subject_id) == ("directive", directive.id)
    assert signal.correlation_id == directive.correlation_id
    assert signal.dedupe_key == f"directive:{directive.id}:requested:0"


def test_the_same_key_and_params_return_the_existing_directive(engine: Any) -> None:
    first = engine.request(key="order-1")
    from fleetprompt_host.engine.directives import DirectiveRequest, request

    again, created = request(
        engine.db,
        engine.registry,
        engine.tenant,
        DirectiveRequest(
            type="shop.order.place", params={"item": "tea"}, actor=engine.member, key="order-1"
        ),
    )
    assert again.id == first.id and not created
    assert engine.count(DirectiveRow) == 1
    assert engine.signal_types() == ["directive.requested"]


@pytest.mark.parametrize(
    ("type_", "params"),
    [("shop.order.place", {"item": "coffee"}), ("shop.noop", {"item": "tea"})],
    ids=["other-params", "other-type"],
)
def test_the_same_key_with_other_params_or_type_is_a_conflict(
    engine: Any, type_: str, params: dict[str, Any]
) -> None:
    engine.request(key="order-1")
    with pytest.raises(ConflictError) as info:
        engine.request(type_, params, key="order-1")
    assert info.value.code == "idempotency-conflict"
    assert engine.count(DirectiveRow) == 1
    assert engine.count(SignalRow) == 1


def test_without_a_key_each_request_is_a_new_directive(engine: Any) -> None:
    assert engine.request().id != engine.request().id
    assert engine.count(DirectiveRow) == 2


BAD_REQUESTS = [
    pytest.param(
        "shop.order.ship", {}, {}, InvalidInputError, "unknown-directive-type", id="unknown"
    ),
    pytest.param(
        "shop.order.place", {}, {}, InvalidInputError, "directive-params-invalid", id="missing"
    ),
    pytest.param(
        "shop.order.place",
        {"item": "x", "qty": 0},
        {},
        InvalidInputError,
        "directive-params-invalid",
        id="below-minimum",
    ),
    pytest.param(
        "shop.order.place",
        {"item": "x", "extra": 1},
        {},
        InvalidInputError,
        "directive-params-invalid",
        id="extra-field",
    ),
    pytest.param(
        "shop.order.place",
        {"item": "x", "api_key": "k"},
        {},
        InvalidInputError,
        "directive-params-secret",
        id="secret",
    ),
    pytest.param(
        "shop.order.place",
        {"item": {1, 2}},
        {},
        InvalidInputError,
        "directive-params-not-json",
        id="not-json",
    ),
    pytest.param(
        "shop.order.place",
        {"item": "x"},
        {"max_attempts": 0},
        InvalidInputError,
        "invalid-max-attempts",
        id="max-attempts",
    ),
    pytest.param(
        "shop.order.place",
        {"item": "x"},
        {"actor": "user:stranger"},
        PermissionDeniedError,
        "role-required",
        id="not-a-member",
    ),
    pytest.param(
        "shop.order.purge",
        {},
        {"actor": "user:max"},
        PermissionDeniedError,
        "role-required",
        id="member-needs-admin",
    ),
    pytest.param(
        "shop.order.place",
        {"item": "x"},
        {"actor": "robot:x"},
        InvalidInputError,
        "invalid-actor",
        id="bad-actor",
    ),
]


@pytest.mark.parametrize(("type_", "params", "kw", "error", "code"), BAD_REQUESTS)
def test_a_bad_request_is_a_typed_error_and_nothing_is_written(
    engine: Any,
    type_: str,
    params: dict[str, Any],
    kw: dict[str, Any],
    error: type[FleetPromptError],
    code: str,
) -> None:
    with pytest.raises(error) as info:
        engine.request(type_, params, **kw)
    assert info.value.code == code
    assert engine.count(DirectiveRow) == 0
    assert engine.count(SignalRow) == 0


def test_a_params_error_names_the_field_path(engine: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        engine.request(params={"item": "x", "qty": "two"})
    assert info.value.message.startswith("params.qty: 'two' is not of type 'integer'")


def test_a_directive_of_a_package_not_installed_in_the_tenant_is_refused(engine: Any) -> None:
    engine.install("shop", status="disabled")
    with pytest.raises(NotFoundError) as info:
        engine.request()
    assert info.value.code == "package-not-installed"


def test_an_admin_may_request_what_needs_admin_and_an_agent_gets_its_users_role(
    engine: Any,
) -> None:
    assert engine.request("shop.order.purge", {}).status is DirectiveStatus.REQUESTED
    directive = engine.request(actor="agent:helper", on_behalf_of=engine.member)
    assert engine.directive(directive.id).role == "member"
    with pytest.raises(PermissionDeniedError):
        engine.request("shop.order.purge", {}, actor="agent:helper", on_behalf_of=engine.member)


def test_concurrent_requests_with_one_key_yield_one_directive(engine: Any) -> None:
    ids = all_at_once(6, lambda _: engine.request(key="same").id)

    assert len(set(ids)) == 1 and len(ids) == 6
    assert engine.count(DirectiveRow) == 1
    assert engine.signal_types() == ["directive.requested"]


def test_a_scheduled_directive_waits_for_its_run_after(engine: Any) -> None:
    later = utcnow() + timedelta(hours=1)
    directive = engine.request(run_after=later)
    assert engine.run_pending().outcomes == []
    assert engine.directive(directive.id).status == "requested"
    assert engine.behaviour.runs == 0


def _cancel(engine: Any, directive_id: str, actor: str | None = None) -> Any:
    with engine.db.tenant_session(engine.tenant) as session:
        return cancel_directive(
            session, engine.registry, engine.tenant, directive_id, actor or engine.owner, "no"
        )


def _rerun(engine: Any, directive_id: str, **kw: Any) -> Any:
    with engine.db.tenant_session(engine.tenant) as session:
        return rerun_directive(
            session, engine.registry, engine.tenant, directive_id, engine.owner, **kw
        )


def test_canceling_a_requested_directive_is_immediate_and_it_never_runs(engine: Any) -> None:
    directive = engine.request()
    canceled = _cancel(engine, directive.id)
    assert canceled.status is DirectiveStatus.CANCELED and canceled.completed_at is not None
    assert engine.run_pending().outcomes == []
    assert engine.behaviour.runs == 0
    assert engine.signal_types() == ["directive.requested", "directive.canceled"]
    assert _cancel(engine, directive.id).status is DirectiveStatus.CANCELED
    assert engine.signal_types() == ["directive.requested", "directive.canceled"]


def test_a_member_cannot_cancel_what_needs_admin(engine: Any) -> None:
    directive = engine.request("shop.order.purge", {})
    with pytest.raises(PermissionDeniedError):
        _cancel(engine, directive.id, actor=engine.member)
    assert engine.directive(directive.id).status == "requested"


def test_a_finished_directive_cannot_be_canceled_but_can_be_rerun(engine: Any) -> None:
    directive = engine.request()
    engine.run_pending()
    assert engine.directive(directive.id).status == "succeeded"
    with pytest.raises(ConflictError) as info:
        _cancel(engine, directive.id)
    assert info.value.code == "directive-not-cancelable"
    rerun = _rerun(engine, directive.id, max_attempts=2)
    assert rerun.status is DirectiveStatus.REQUESTED
    assert (rerun.attempts, rerun.max_attempts, rerun.result) == (1, 3, None)
    engine.run_pending()
    row = engine.directive(directive.id)
    assert (row.status, row.attempts, engine.behaviour.runs) == ("succeeded", 2, 2)
    types = engine.signal_types()
    assert types.count("directive.requested") == 2
    assert types.count("directive.succeeded") == 2
    assert [e.summary["attempt"] for e in engine.executions("directive")] == [1, 2]


def test_only_a_terminal_directive_can_be_rerun(engine: Any) -> None:
    directive = engine.request()
    with pytest.raises(ConflictError) as info:
        _rerun(engine, directive.id)
    assert info.value.code == "directive-not-terminal"


def test_a_host_directive_type_is_validated_and_run_like_a_package_one(engine: Any) -> None:
    seen: list[Any] = []

    def handle(ctx: Any, directive: Any) -> dict[str, Any]:
        seen.append((directive.params, ctx.actor))
        ctx.emit("tenant.note.added", {"text": directive.params["text"]})
        return {"ok": True}

    spec = HostDirectiveType(
        "tenant.note.add",
        handle,
        params={"type": "object", "required": ["text"]},
        required_role=Role.ADMIN,
    )
    register_host_directive(spec)
    try:
        with pytest.raises(InvalidInputError):
            engine.request("tenant.note.add", {})
        with pytest.raises(PermissionDeniedError):
            engine.request("tenant.note.add", {"text": "hi"}, actor=engine.member)
        directive = engine.request("tenant.note.add", {"text": "hi"})
        engine.run_pending()
    finally:
        unregister_host_directive("tenant.note.add")
    assert engine.directive(directive.id).result == {"ok": True}
    assert str(seen[0][1]) == engine.owner
    assert "tenant.note.added" in engine.signal_types()
