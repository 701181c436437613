"""Requesting, canceling and rerunning directives (controlled intent).

A directive type is handled either by the host (:mod:`.host_directives`) or by exactly one
package active in the tenant, whose manifest's ``DirectiveSpec`` gives the params schema
and the role the requesting actor needs. See docs/signals-and-directives.md.

Idempotency: a request carries an idempotency key (given, or derived from the type, the
params and the work that caused it). The same key with the same type and params returns
the existing directive (``created=False``); the same key with anything else is a
:class:`ConflictError` (``idempotency-conflict``). Concurrent requests with one key yield
one directive: the unique key decides and the loser reads the winner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database, require_role
from fleetprompt_host.storage.base import new_id, utcnow
from fleetprompt_host.storage.models import DirectiveRow
from fleetprompt_host.storage.roles import as_actor
from fleetprompt_sdk.enums import DirectiveStatus, Role
from fleetprompt_sdk.errors import ConflictError, InvalidInputError, NotFoundError
from fleetprompt_sdk.models import Actor, Directive

from .host_directives import host_directive
from .installed import active_packages
from .jsonsafe import check_json, digest, json_size
from .leases import affected
from .lifecycle import lifecycle_signal
from .schemas import validate
from .signals import lock_signal_counter
from .subscriptions import loaded
from .wakeups import work_created

DEFAULT_MAX_ATTEMPTS = 3
MAX_ATTEMPTS_LIMIT = 100
MAX_PARAMS_BYTES = 64 * 1024
_PARAM_CODES = {
    "not-json": "directive-params-not-json",
    "too-deep": "directive-params-not-json",
    "secret": "directive-params-secret",
}


@dataclass(frozen=True)
class DirectiveTarget:
    """Who handles a directive type: the host (``package`` None) or one package."""

    type: str
    package: str | None
    params_schema: dict[str, Any]
    required_role: Role
    handler: Callable[..., Any]


@dataclass(frozen=True)
class DirectiveRequest:
    """What a caller asks for; see :func:`request_directive`."""

    type: str
    params: dict[str, Any]
    actor: Actor | str
    on_behalf_of: Actor | str | None = None
    key: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    run_after: datetime | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


def resolve_target(session: Session, registry: PackageRegistry, type_: str) -> DirectiveTarget:
    """Return the handler of ``type_`` in the session's tenant, or raise a typed error."""
    host = host_directive(type_)
    if host is not None:
        return DirectiveTarget(type_, None, host.params, host.required_role, host.handler)
    for package in loaded(registry, active_packages(session)):
        spec = package.manifest.directive(type_)
        handler = package.directive_handlers.get(type_)
        if spec is not None and handler is not None:
            return DirectiveTarget(
                type_, package.name, spec.params, spec.required_role, handler.function
            )
    owner = registry.directive_handler(type_)
    if owner is not None:
        raise NotFoundError(
            f"directive type {type_!r} belongs to package {owner[0].name!r}, which is not "
            "installed in this tenant",
            code="package-not-installed",
        )
    raise InvalidInputError(
        f"unknown directive type {type_!r}: no installed package or host layer handles it",
        code="unknown-directive-type",
    )


def _check_request(req: DirectiveRequest) -> None:
    if not isinstance(req.params, dict):
        raise InvalidInputError(
            f"directive params must be a JSON object, got {type(req.params).__name__}",
            code="directive-params-not-json",
        )
    check_json(req.params, root="params", codes=_PARAM_CODES)
    size = json_size(req.params)
    if size > MAX_PARAMS_BYTES:
        raise InvalidInputError(
            f"directive params are {size} bytes as JSON, at most {MAX_PARAMS_BYTES}",
            code="directive-params-too-large",
        )
    if req.key is not None and not (0 < len(req.key) <= 200 and req.key.isprintable()):
        raise InvalidInputError(
            "idempotency key must be 1 to 200 printable characters", code="invalid-idempotency-key"
        )
    if not (1 <= req.max_attempts <= MAX_ATTEMPTS_LIMIT):
        raise InvalidInputError(
            f"max_attempts must be between 1 and {MAX_ATTEMPTS_LIMIT}, got {req.max_attempts}",
            code="invalid-max-attempts",
        )
    if req.run_after is not None and req.run_after.tzinfo is None:
        raise InvalidInputError("run_after must carry a time zone", code="invalid-run-after")
    for name in ("correlation_id", "causation_id"):
        value = getattr(req, name)
        if value is not None and not (0 < len(value) <= 64):
            raise InvalidInputError(
                f"{name} must be 1 to 64 characters", code="invalid-directive-field"
            )


def derived_key(type_: str, params: dict[str, Any], cause: str) -> str:
    """Return the idempotency key of a request that gave none (see module doc)."""
    return "auto:" + digest(type_, params, cause)[:48]


def request_directive(
    session: Session, registry: PackageRegistry, tenant: str, req: DirectiveRequest
) -> tuple[Directive, bool]:
    """Validate and record ``req`` in ``session``; return (directive, created).

    Raises :class:`InvalidInputError` (bad type, params, key), :class:`NotFoundError`
    (``package-not-installed``), :class:`PermissionDeniedError` (``role-required``) or
    :class:`ConflictError` (``idempotency-conflict``); nothing is written then.
    """
    actor = as_actor(req.actor)
    _check_request(req)
    target = resolve_target(session, registry, req.type)
    validate(
        req.params,
        target.params_schema,
        root="params",
        code="directive-params-invalid",
        what=f"directive {req.type}",
    )
    role = require_role(session, actor, target.required_role, on_behalf_of=req.on_behalf_of)
    correlation = req.correlation_id or new_id()
    key = req.key or derived_key(req.type, req.params, req.causation_id or correlation)
    params_hash = digest(req.type, req.params)
    existing = _by_key(session, key)
    if existing is None:
        now = utcnow()
        values: dict[str, Any] = {
            "id": new_id(),
            "type": req.type,
            "params": req.params,
            "status": DirectiveStatus.REQUESTED.value,
            "idempotency_key": key,
            "params_hash": params_hash,
            "actor": str(actor),
            "role": role.value if role else None,
            "correlation_id": correlation,
            "causation_id": req.causation_id,
            "attempts": 0,
            "max_attempts": req.max_attempts,
            "run_after": req.run_after or now,
            "fencing_token": 0,
            "requested_at": now,
            "updated_at": now,
        }
        dialect = session.get_bind().dialect.name
        stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(DirectiveRow)
        inserted = session.execute(
            stmt.values(**values)
            .on_conflict_do_nothing(index_elements=[DirectiveRow.idempotency_key])
            .returning(DirectiveRow.id)
        ).scalar_one_or_none()
        if inserted is not None:
            row = session.get(DirectiveRow, inserted)
            assert row is not None
            lifecycle_signal(session, registry, tenant, row, "requested", mark=0)
            work_created(session, tenant, "directive", values["run_after"])
            return to_model(row, tenant), True
        existing = _by_key(session, key)
        assert existing is not None, "a conflicting directive must be visible once committed"
    if existing.params_hash != params_hash:
        raise ConflictError(
            f"idempotency key {key!r} was used for directive {existing.id} with a different "
            "type or params",
            code="idempotency-conflict",
        )
    return to_model(existing, tenant), False


def _by_key(session: Session, key: str) -> DirectiveRow | None:
    return session.execute(
        select(DirectiveRow).where(DirectiveRow.idempotency_key == key)
    ).scalar_one_or_none()


def request(
    db: Database, registry: PackageRegistry, tenant: str, req: DirectiveRequest
) -> tuple[Directive, bool]:
    """Request ``req`` in a transaction of its own (see :func:`request_directive`)."""
    with db.tenant_session(tenant) as session:
        return request_directive(session, registry, tenant, req)


def load(session: Session, directive_id: str, *, fresh: bool = False) -> DirectiveRow:
    """Return directive ``directive_id`` or raise :class:`NotFoundError`."""
    row = session.get(DirectiveRow, directive_id, populate_existing=fresh)
    if row is None:
        raise NotFoundError(
            f"directive {directive_id!r} does not exist", code="directive-not-found"
        )
    return row


def _role_for(session: Session, registry: PackageRegistry, type_: str) -> Role:
    try:
        return resolve_target(session, registry, type_).required_role
    except (InvalidInputError, NotFoundError):
        return Role.ADMIN


def cancel_directive(
    session: Session,
    registry: PackageRegistry,
    tenant: str,
    directive_id: str,
    actor: Actor | str,
    reason: str = "",
) -> Directive:
    """Cancel a requested or running directive at once; return it.

    A running attempt is fenced (its fencing token is bumped): its handler may go on until
    it notices ``ctx.cancel_requested``, but nothing it wrote commits. Canceling a
    canceled directive returns it unchanged; a succeeded or failed one raises
    :class:`ConflictError` (``directive-not-cancelable``).
    """
    who = as_actor(actor)
    row = load(session, directive_id)
    require_role(session, who, _role_for(session, registry, row.type))
    lock_signal_counter(session)
    row = load(session, directive_id, fresh=True)
    if row.status == DirectiveStatus.CANCELED:
        return to_model(row, tenant)
    if row.status not in (DirectiveStatus.REQUESTED, DirectiveStatus.RUNNING):
        raise ConflictError(
            f"directive {directive_id} is {row.status}; only requested or running "
            "directives can be canceled",
            code="directive-not-cancelable",
        )
    token = row.fencing_token + 1
    # The counter lock is held (above) before the row is written: the same order as a
    # finishing run, so the two cannot deadlock.
    lifecycle_signal(
        session,
        registry,
        tenant,
        row,
        "canceled",
        mark=token,
        extra={"was": row.status, "reason": reason[:500]},
        actor=str(who),
    )
    _transition(session, row, status="canceled", fencing_token=token, completed_at=utcnow())
    return to_model(load(session, directive_id), tenant)


def rerun_directive(
    session: Session,
    registry: PackageRegistry,
    tenant: str,
    directive_id: str,
    actor: Actor | str,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    run_after: datetime | None = None,
) -> Directive:
    """Request a terminal directive again: a new attempt with ``max_attempts`` more tries.

    The directive keeps its id, key and history; its result and error are cleared and a
    new ``directive.requested`` (``data.rerun`` true) records who asked.
    """
    who = as_actor(actor)
    row = load(session, directive_id)
    target = resolve_target(session, registry, row.type)
    require_role(session, who, target.required_role)
    lock_signal_counter(session)
    row = load(session, directive_id, fresh=True)
    if not DirectiveStatus(row.status).terminal:
        raise ConflictError(
            f"directive {directive_id} is {row.status}; only a terminal directive can be rerun",
            code="directive-not-terminal",
        )
    if not (1 <= max_attempts <= MAX_ATTEMPTS_LIMIT):
        raise InvalidInputError(
            f"max_attempts must be between 1 and {MAX_ATTEMPTS_LIMIT}", code="invalid-max-attempts"
        )
    token = row.fencing_token + 1
    lifecycle_signal(
        session,
        registry,
        tenant,
        row,
        "requested",
        mark=token,
        extra={"rerun": True, "previous_status": row.status},
        actor=str(who),
    )
    due = run_after or utcnow()
    _transition(
        session,
        row,
        status="requested",
        fencing_token=token,
        max_attempts=row.attempts + max_attempts,
        run_after=due,
        result=None,
        error=None,
        completed_at=None,
    )
    work_created(session, tenant, "directive", due)
    return to_model(load(session, directive_id), tenant)


def _transition(session: Session, row: DirectiveRow, **values: Any) -> None:
    """Apply ``values`` if the row is still as read; else raise ``directive-changed``."""
    done = affected(
        session.execute(
            update(DirectiveRow)
            .where(
                DirectiveRow.id == row.id,
                DirectiveRow.status == row.status,
                DirectiveRow.fencing_token == row.fencing_token,
            )
            .values(lease_owner=None, lease_expires_at=None, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
    )
    if done != 1:
        raise ConflictError(
            f"directive {row.id} changed while this was being done; try again",
            code="directive-changed",
        )
    session.expire(row)


def to_model(row: DirectiveRow, tenant: str) -> Directive:
    """Return the SDK view of a stored directive."""
    return Directive(
        id=row.id,
        tenant=tenant,
        type=row.type,
        params=row.params,
        status=DirectiveStatus(row.status),
        idempotency_key=row.idempotency_key,
        actor=Actor.parse(row.actor),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        correlation_id=row.correlation_id,
        causation_id=row.causation_id,
        result=row.result,
        error=row.error,
        requested_at=row.requested_at,
        run_after=row.run_after,
        started_at=row.started_at,
        completed_at=row.completed_at,
    )
