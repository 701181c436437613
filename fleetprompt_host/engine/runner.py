"""The runner: executes one claimed directive or signal delivery, exactly once in effect.

Contract for workers (and for embedded, inline runs):

1. Claim the row first (:mod:`.leases`): the claim sets ``status='running'`` (directives),
   the lease, ``attempts+1`` and ``fencing_token+1`` and gives a :class:`Claim`.
2. Call :func:`run_directive` or :func:`deliver_signal` with that claim. The run opens ONE
   tenant transaction, checks that the row still carries ``claim.fencing_token``, builds
   the capability-scoped context, calls the handler, and commits together: the handler's
   record writes, the signals and directives it created (with their fanout), the status
   change, the lifecycle signals and the execution record.
3. The fence is re-checked by the status UPDATE itself (``WHERE fencing_token = :token``)
   at the end of the transaction, so a worker whose lease expired and whose row was
   claimed again (or canceled) commits nothing: its transaction rolls back and the attempt
   is recorded, in a transaction of its own, as an execution with outcome ``superseded``
   (``canceled`` when the directive was canceled meanwhile).
4. When the handler raises, its effects roll back; a new transaction then records the
   failed attempt: retried with exponential backoff (:class:`RetryPolicy`) until the
   directive's ``max_attempts`` (deliveries: ``policy.delivery_max_attempts``), then
   ``failed`` (deliveries: ``dead``) with a structured error ``{code, message}``. Input and
   permission errors (:class:`InvalidInputError`, :class:`PermissionDeniedError`,
   :class:`NotFoundError`, :class:`ConflictError`) are not retried.
5. Both functions return a :class:`RunOutcome` and never raise for handler failures; they
   raise only when the row does not exist or the database is unreachable (then nothing
   was committed and the lease expiry makes the work claimable again).

``KeyboardInterrupt`` and ``SystemExit`` propagate untouched (the transaction rolls back and
the lease expires). Cancel of a running directive bumps its fencing token: the handler
sees ``ctx.cancel_requested`` and, whatever it does, its writes are not committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import update
from sqlalchemy.orm import Session

from fleetprompt_host.registry import LoadedPackage, PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import DeliveryRow, DirectiveRow, SignalRow
from fleetprompt_sdk.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

from .contexts import DirectiveRunContext, HandlerRunContext, HostDirectiveContext
from .directives import load, resolve_target, to_model
from .executions import ExecutionLog, error_doc
from .installed import active_packages
from .jsonsafe import check_json, json_size
from .leases import Claim
from .lifecycle import lifecycle_signal
from .retry import DEFAULT_POLICY, RetryPolicy
from .signals import to_model as signal_model
from .subscriptions import split_handler_id

__all__ = ["Claim", "RunOutcome", "deliver_signal", "run_directive"]

Status = Literal["succeeded", "retry", "failed", "canceled", "superseded", "done", "dead"]
_PERMANENT = (InvalidInputError, PermissionDeniedError, NotFoundError, ConflictError)
MAX_RESULT_BYTES = 64 * 1024


@dataclass(frozen=True)
class RunOutcome:
    """What became of one run."""

    kind: Literal["directive", "delivery"]
    id: str
    status: Status
    attempt: int
    execution_id: str
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    next_attempt_at: datetime | None = None

    @property
    def committed(self) -> bool:
        """True when the handler's effects were committed (succeeded or done)."""
        return self.status in ("succeeded", "done")


class _Superseded(Exception):
    """The row no longer carries our claim: roll back and record the attempt."""

    def __init__(self, status: str, token: int, owner: str | None) -> None:
        super().__init__(status)
        self.status, self.token, self.owner = status, token, owner


@dataclass
class _Failure(Exception):
    """A failure the runner itself detects (no handler, attempts exhausted, bad result)."""

    code: str
    message: str
    permanent: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


def _permanent(exc: BaseException) -> bool:
    if isinstance(exc, _Failure):
        return exc.permanent
    return isinstance(exc, _PERMANENT) or getattr(exc, "retryable", True) is False


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, _Failure):
        return {"code": exc.code, "message": exc.message}
    return error_doc(exc)


def _check_result(result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    if not isinstance(result, dict):
        raise _Failure(
            "directive-result-invalid",
            f"the handler returned {type(result).__name__}; a result is a JSON object or None",
        )
    try:
        check_json(
            result,
            root="result",
            codes=dict.fromkeys(("not-json", "too-deep", "secret"), "directive-result-invalid"),
        )
    except InvalidInputError as exc:
        raise _Failure("directive-result-invalid", exc.message) from None
    if json_size(result) > MAX_RESULT_BYTES:
        raise _Failure(
            "directive-result-invalid", f"the result is larger than {MAX_RESULT_BYTES} bytes"
        )
    return result


# -- directives ---------------------------------------------------------------------------


def run_directive(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    directive_id: str,
    claim: Claim,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> RunOutcome:
    """Run claimed directive ``directive_id`` (see the module doc for the contract)."""
    log = ExecutionLog(
        "directive",
        causation_id=directive_id,
        summary={"directive_id": directive_id, "owner": claim.owner, "fence": claim.fencing_token},
    )
    attempt = 0
    try:
        with db.tenant_session(tenant) as session:
            row = load(session, directive_id)
            attempt = row.attempts
            log.actor, log.correlation_id = row.actor, row.correlation_id
            log.summary.update(type=row.type, attempt=attempt)
            if row.status != "running" or row.fencing_token != claim.fencing_token:
                raise _Superseded(row.status, row.fencing_token, row.lease_owner)
            if attempt > row.max_attempts:
                raise _Failure(
                    "attempts-exhausted",
                    f"attempt {attempt} exceeds max_attempts {row.max_attempts}: earlier "
                    "attempts ended without reporting (their worker stopped)",
                )
            result = _call_directive(session, registry, tenant, row, claim, log)
            session.flush()
            _finish_directive(
                session, registry, tenant, row, claim, status="succeeded", result=result
            )
            log.write(session, "succeeded", outcome="succeeded")
        return RunOutcome("directive", directive_id, "succeeded", attempt, log.id, result=result)
    except _Superseded as stale:
        return _superseded(db, tenant, "directive", directive_id, attempt, claim, log, stale)
    except Exception as exc:
        if isinstance(exc, NotFoundError) and exc.code == "directive-not-found":
            raise
        return _directive_failed(db, registry, tenant, directive_id, claim, log, exc, policy)


def _call_directive(
    session: Session,
    registry: PackageRegistry,
    tenant: str,
    row: DirectiveRow,
    claim: Claim,
    log: ExecutionLog,
) -> dict[str, Any] | None:
    target = resolve_target(session, registry, row.type)
    common: dict[str, Any] = {
        "actor": row.actor,
        "correlation_id": row.correlation_id or row.id,
        "causation_id": row.id,
        "log": log,
    }
    ctx: Any
    if target.package is None:
        ctx = HostDirectiveContext(
            session, registry, tenant, directive=to_model(row, tenant), **common
        )
    else:
        package = registry.get(target.package)
        log.summary["package"] = package.name
        ctx = DirectiveRunContext(
            session,
            registry,
            tenant,
            manifest=package.manifest,
            directive=row,
            fencing_token=claim.fencing_token,
            **common,
        )
    with log.timed(
        "directive_run", row.type, input={"params": row.params, "attempt": row.attempts}
    ) as step:
        result = _check_result(target.handler(ctx, dict(row.params)))
        step.output = result
    return result


def _finish_directive(
    session: Session,
    registry: PackageRegistry,
    tenant: str,
    row: DirectiveRow,
    claim: Claim,
    *,
    status: str,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    run_after: datetime | None = None,
) -> None:
    """Lifecycle signals first (counter lock before row lock, everywhere), then the fence."""
    attempt, now = row.attempts, utcnow()
    # Written at the end to keep the tenant's signal counter free while the handler runs;
    # occurred_at still says when the attempt started.
    lifecycle_signal(
        session, registry, tenant, row, "started", mark=attempt, occurred_at=row.started_at
    )
    if status in ("succeeded", "failed"):
        extra = {"result": result} if status == "succeeded" else {"error": error}
        if status == "succeeded" and json_size(extra) > 16 * 1024:
            extra = {"result_truncated": True}
        lifecycle_signal(session, registry, tenant, row, status, mark=attempt, extra=extra)
    values: dict[str, Any] = {
        "status": status,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now,
        "error": error,
    }
    if status == "requested":
        values["run_after"] = run_after
    else:
        values.update(result=result, completed_at=now)
    fenced = session.execute(
        update(DirectiveRow)
        .where(
            DirectiveRow.id == row.id,
            DirectiveRow.status == "running",
            DirectiveRow.fencing_token == claim.fencing_token,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if fenced != 1:
        current = session.get(DirectiveRow, row.id, populate_existing=True)
        raise _Superseded(
            current.status if current else "missing",
            current.fencing_token if current else -1,
            current.lease_owner if current else None,
        )


def _directive_failed(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    directive_id: str,
    claim: Claim,
    log: ExecutionLog,
    exc: Exception,
    policy: RetryPolicy,
) -> RunOutcome:
    error = _error(exc)
    _mark_rolled_back(log, error)
    try:
        with db.tenant_session(tenant) as session:
            row = load(session, directive_id)
            attempt = row.attempts
            if row.status != "running" or row.fencing_token != claim.fencing_token:
                raise _Superseded(row.status, row.fencing_token, row.lease_owner)
            terminal = _permanent(exc) or attempt >= row.max_attempts
            now = utcnow()
            retry_at = None if terminal else policy.next_at(now, attempt)
            _finish_directive(
                session,
                registry,
                tenant,
                row,
                claim,
                status="failed" if terminal else "requested",
                error=error,
                run_after=retry_at,
            )
            outcome: Status = "failed" if terminal else "retry"
            log.write(session, "failed", outcome=outcome, error=error, retry_at=retry_at)
    except _Superseded as stale:
        return _superseded(db, tenant, "directive", directive_id, attempt, claim, log, stale)
    return RunOutcome(
        "directive", directive_id, outcome, attempt, log.id, error=error, next_attempt_at=retry_at
    )


def _mark_rolled_back(log: ExecutionLog, error: dict[str, Any]) -> None:
    """Steps of a rolled-back attempt stay in the record, marked as not committed."""
    log.summary["error"] = error
    for step in log.steps:
        if step.kind == "signal_emitted" and isinstance(step.output, dict):
            step.output = {**step.output, "rolled_back": True}


def _superseded(
    db: Database,
    tenant: str,
    kind: Literal["directive", "delivery"],
    item_id: str,
    attempt: int,
    claim: Claim,
    log: ExecutionLog,
    stale: _Superseded,
) -> RunOutcome:
    canceled = kind == "directive" and stale.status == "canceled"
    outcome: Status = "canceled" if canceled else "superseded"
    error = {
        "code": outcome,
        "message": (
            f"the {kind} was canceled while this attempt ran; nothing it did was committed"
            if canceled
            else f"fencing token {claim.fencing_token} held by {claim.owner} is stale (the "
            f"{kind} is {stale.status}, token {stale.token}, held by {stale.owner}); nothing "
            "this attempt did was committed"
        ),
    }
    _mark_rolled_back(log, error)
    with db.tenant_session(tenant) as session:
        log.write(session, "canceled" if canceled else "failed", outcome=outcome, error=error)
    return RunOutcome(kind, item_id, outcome, attempt, log.id, error=error)


# -- deliveries ---------------------------------------------------------------------------


def deliver_signal(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    delivery_id: int,
    claim: Claim,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> RunOutcome:
    """Deliver claimed delivery ``delivery_id`` to its handler (see the module doc)."""
    log = ExecutionLog(
        "delivery",
        summary={"delivery_id": delivery_id, "owner": claim.owner, "fence": claim.fencing_token},
    )
    attempt = 0
    try:
        with db.tenant_session(tenant) as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is None:
                raise NotFoundError(
                    f"delivery {delivery_id} does not exist", code="delivery-not-found"
                )
            attempt = row.attempts
            signal_row = session.get(SignalRow, row.signal_id)
            assert signal_row is not None, "deliveries cascade with their signal"
            signal = signal_model(signal_row, tenant)
            log.actor = str(signal.actor) if signal.actor else None
            log.correlation_id = signal.correlation_id or signal.id
            log.causation_id = signal.id
            log.summary.update(
                handler=row.handler,
                signal_id=signal.id,
                signal_type=signal.type,
                attempt=attempt,
                replay=row.replay,
            )
            if not _holds_delivery(row, claim):
                raise _Superseded(row.status, row.fencing_token, row.lease_owner)
            if attempt > policy.delivery_max_attempts:
                raise _Failure(
                    "attempts-exhausted",
                    f"attempt {attempt} exceeds {policy.delivery_max_attempts}: earlier "
                    "attempts ended without reporting (their worker stopped)",
                )
            package, handler = _handler(session, registry, row.handler)
            ctx = HandlerRunContext(
                session,
                registry,
                tenant,
                manifest=package.manifest,
                signal=signal,
                handler=row.handler,
                actor=str(signal.actor) if signal.actor else "system:fleetprompt",
                correlation_id=log.correlation_id,
                causation_id=signal.id,
                log=log,
            )
            with log.timed(
                "handler_delivery",
                row.handler,
                input={"signal_id": signal.id, "type": signal.type, "seq": signal.seq},
            ):
                handler(ctx, signal)
            session.flush()
            _finish_delivery(session, row.id, claim, status="done")
            log.write(session, "succeeded", outcome="done")
        return RunOutcome("delivery", str(delivery_id), "done", attempt, log.id)
    except _Superseded as stale:
        return _superseded(db, tenant, "delivery", str(delivery_id), attempt, claim, log, stale)
    except Exception as exc:
        if isinstance(exc, NotFoundError) and exc.code == "delivery-not-found":
            raise
        return _delivery_failed(db, tenant, delivery_id, claim, log, exc, policy)


def _holds_delivery(row: DeliveryRow, claim: Claim) -> bool:
    return row.status == "pending" and row.fencing_token == claim.fencing_token


def _handler(session: Session, registry: PackageRegistry, name: str) -> tuple[LoadedPackage, Any]:
    package_name, handler_name = split_handler_id(name)
    if package_name not in active_packages(session):
        raise _Failure(
            "handler-unavailable",
            f"package {package_name!r} of handler {name!r} is not installed in this tenant",
        )
    found = registry.find(package_name)
    handler = found.signal_handlers.get(handler_name) if isinstance(found, LoadedPackage) else None
    if handler is None or not isinstance(found, LoadedPackage):
        raise _Failure(
            "handler-unavailable",
            f"handler {name!r} is not loaded in this process (see `fleetprompt packages list`)",
            permanent=False,
        )
    return found, handler.function


def _finish_delivery(
    session: Session,
    delivery_id: int,
    claim: Claim,
    *,
    status: str,
    error: dict[str, Any] | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    now = utcnow()
    values: dict[str, Any] = {
        "status": status,
        "lease_owner": None,
        "lease_expires_at": None,
        "last_error": error,
        "updated_at": now,
    }
    if status == "pending":
        values["next_attempt_at"] = next_attempt_at
    else:
        values["completed_at"] = now
    fenced = session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.id == delivery_id,
            DeliveryRow.status == "pending",
            DeliveryRow.fencing_token == claim.fencing_token,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if fenced != 1:
        current = session.get(DeliveryRow, delivery_id, populate_existing=True)
        raise _Superseded(
            current.status if current else "missing",
            current.fencing_token if current else -1,
            current.lease_owner if current else None,
        )


def _delivery_failed(
    db: Database,
    tenant: str,
    delivery_id: int,
    claim: Claim,
    log: ExecutionLog,
    exc: Exception,
    policy: RetryPolicy,
) -> RunOutcome:
    error = _error(exc)
    _mark_rolled_back(log, error)
    attempt = int(log.summary.get("attempt", 0))
    try:
        with db.tenant_session(tenant) as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is None or not _holds_delivery(row, claim):
                raise _Superseded(
                    row.status if row else "missing",
                    row.fencing_token if row else -1,
                    row.lease_owner if row else None,
                )
            attempt = row.attempts
            terminal = _permanent(exc) or attempt >= policy.delivery_max_attempts
            retry_at = None if terminal else policy.next_at(utcnow(), attempt)
            _finish_delivery(
                session,
                delivery_id,
                claim,
                status="dead" if terminal else "pending",
                error=error,
                next_attempt_at=retry_at,
            )
            outcome: Status = "dead" if terminal else "retry"
            log.write(session, "failed", outcome=outcome, error=error, retry_at=retry_at)
    except _Superseded as stale:
        return _superseded(db, tenant, "delivery", str(delivery_id), attempt, claim, log, stale)
    return RunOutcome(
        "delivery",
        str(delivery_id),
        outcome,
        attempt,
        log.id,
        error=error,
        next_attempt_at=retry_at,
    )
