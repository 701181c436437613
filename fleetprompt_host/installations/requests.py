"""The front door of lifecycle operations: plan, submit, and optionally run inline.

:func:`operate` is what the CLI calls for one tenant. In one tenant transaction it records
earlier failures, builds the plan (every check that needs no package code), stores the
secret values encrypted, marks the installation, requests each step's directive with the
plan's correlation id and emits ``package.<action>.requested``. With ``wait`` the
directives then run in this process, in order, through the engine's runner (embedded
mode); a failed step cancels the steps after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from fleetprompt_host.engine.directives import (
    DirectiveRequest,
    cancel_directive,
    request_directive,
)
from fleetprompt_host.engine.inline import run_directive_now
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import DirectiveRow
from fleetprompt_sdk.errors import PermissionDeniedError
from fleetprompt_sdk.models import Actor

from . import secret_store, state
from .failures import record_failures
from .plan import Plan, Step
from .planner import Planner
from .secrets import Keyring, load_keyring
from .trail import lifecycle_event

#: Attempts of a lifecycle directive: transient failures (a dependency still installing,
#: a lost worker) are retried; package hook failures and refusals are not.
MAX_ATTEMPTS = 5
WAIT_TIMEOUT = 600.0

PlanBuilder = Callable[[Planner], Plan]


@dataclass(frozen=True)
class Operation:
    """Who asks for what, where."""

    tenant: str
    actor: str
    build: PlanBuilder
    dry_run: bool = False
    wait: bool = False
    needs_key: bool = False


def _keyring(needs_key: bool, dry_run: bool) -> Keyring | None:
    from fleetprompt_sdk.errors import ConfigError

    try:
        return load_keyring(create=needs_key and not dry_run)
    except ConfigError:
        if needs_key and not dry_run:
            raise
        return None


def _check_role(session: Session, actor: str) -> None:
    from fleetprompt_host.storage import require_role
    from fleetprompt_sdk.enums import Role

    try:
        require_role(session, actor, Role.ADMIN)
    except PermissionDeniedError as exc:
        raise PermissionDeniedError(
            f"{exc.message} (package lifecycle operations need admin)", code=exc.code
        ) from None


def operate(db: Database, registry: PackageRegistry, op: Operation) -> Plan:
    """Plan ``op`` in its tenant; unless a dry run, submit it (and run it with ``wait``)."""
    keyring = _keyring(op.needs_key, op.dry_run)
    if op.dry_run:
        with db.tenant_session(op.tenant, readonly=True) as session:
            _check_role(session, op.actor)
            return op.build(Planner(session, registry, op.tenant, keyring, dry_run=True))
    with db.tenant_session(op.tenant) as session:
        _check_role(session, op.actor)
        record_failures(session, registry, op.tenant)
        plan = op.build(Planner(session, registry, op.tenant, keyring))
        submit(session, registry, plan, op.actor, keyring)
    if op.wait:
        run_plan(db, registry, plan, op.actor)
    return plan


def submit(
    session: Session, registry: PackageRegistry, plan: Plan, actor: str, keyring: Keyring | None
) -> None:
    """Request every pending step of ``plan`` in ``session`` (see module doc)."""
    who = str(Actor.parse(actor))
    for step in plan.pending:
        if step.secrets:
            assert keyring is not None, "secrets need the host key"
            refs = {str(i["field"]): str(i["ref"]) for i in step.params["secret_refs"]}
            secret_store.store_secrets(
                session, keyring, plan.tenant, step.package, step.secrets, refs
            )
        directive, created = request_directive(
            session,
            registry,
            plan.tenant,
            DirectiveRequest(
                type=step.type,
                params=step.params,
                actor=who,
                key=step.key,
                correlation_id=plan.correlation_id,
                max_attempts=MAX_ATTEMPTS,
            ),
        )
        step.directive_id, step.created, step.status = directive.id, created, directive.status
        state.mark_requested(
            session,
            step.package,
            step.version,
            directive_id=directive.id,
            requested_by=who,
            install=step.action == "install",
        )
        if created:
            lifecycle_event(
                session,
                registry,
                plan.tenant,
                action=step.action,
                event="requested",
                package=step.package,
                directive_id=directive.id,
                actor=who,
                correlation_id=plan.correlation_id,
                data={
                    "version": step.version,
                    "from_version": step.from_version,
                    "reason": step.reason,
                    "config_checksum": step.params.get("config_checksum"),
                },
            )


def run_plan(db: Database, registry: PackageRegistry, plan: Plan, actor: str) -> None:
    """Run the plan's directives now, in order; record failures; cancel what follows one."""
    failed = False
    for step in plan.pending:
        assert step.directive_id is not None
        if failed:
            _cancel(db, registry, plan.tenant, step, actor)
            continue
        step.status, step.error = wait_for(db, registry, plan.tenant, step.directive_id)
        failed = step.status != "succeeded"
    if failed:
        with db.tenant_session(plan.tenant) as session:
            record_failures(session, registry, plan.tenant)


def _cancel(db: Database, registry: PackageRegistry, tenant: str, step: Step, actor: str) -> None:
    assert step.directive_id is not None
    with db.tenant_session(tenant) as session:
        row = session.get(DirectiveRow, step.directive_id)
        if row is not None and row.status in ("requested", "running"):
            cancel_directive(
                session, registry, tenant, row.id, actor, reason="an earlier step failed"
            )
        step.status = "canceled"


TERMINAL = ("succeeded", "failed", "canceled")


def wait_for(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    directive_id: str,
    timeout: float = WAIT_TIMEOUT,
) -> tuple[str, dict[str, Any] | None]:
    """Run ``directive_id`` here until it is terminal (or wait for the worker holding it).

    Returns its status and error (the status is not terminal only after ``timeout``).
    """
    deadline = time.monotonic() + timeout
    while True:
        outcome = run_directive_now(db, registry, tenant, directive_id)
        if outcome is not None and outcome.status in TERMINAL:
            return outcome.status, outcome.error
        with db.tenant_session(tenant, readonly=True) as session:
            row = session.get(DirectiveRow, directive_id)
            assert row is not None
            status, error, due = row.status, row.error, row.run_after
        if status in TERMINAL or time.monotonic() > deadline:
            return status, error
        # Due later (retry backoff) or held by a worker: wait a little and look again.
        pause = (due - utcnow()).total_seconds() if status == "requested" else 0.05
        time.sleep(min(max(pause, 0.01), 1.0))
