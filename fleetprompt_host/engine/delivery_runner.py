"""Delivering one claimed signal delivery to its handler (see :mod:`.runner` for the contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fleetprompt_host.registry import LoadedPackage, PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import DeliveryRow
from fleetprompt_sdk.errors import NotFoundError

from .contexts import HandlerRunContext
from .executions import ExecutionLog
from .installed import active_packages, remember_active_packages
from .leases import Claim, affected
from .outcomes import (
    RunFailure,
    RunOutcome,
    Status,
    Superseded,
    error_of,
    mark_rolled_back,
    permanent,
    record_superseded,
)
from .retry import DEFAULT_POLICY, RetryPolicy
from .signals import to_model as signal_model
from .statements import DELIVERY_FINISH, delivery_for_run, dialect_of
from .subscriptions import split_handler_id
from .wakeups import work_created


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
            # The delivery, its signal and the active packages in one round trip.
            found = session.execute(
                delivery_for_run(dialect_of(session)), {"p_id": delivery_id}
            ).one_or_none()
            if found is None:
                raise NotFoundError(
                    f"delivery {delivery_id} does not exist", code="delivery-not-found"
                )
            row, signal_row, active = found
            remember_active_packages(session, active)
            attempt = row.attempts
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
                raise Superseded(row.status, row.fencing_token, row.lease_owner)
            if policy.exhausted(attempt, policy.delivery_max_attempts):
                raise RunFailure(
                    "attempts-exhausted",
                    f"attempt {attempt} exceeds {policy.delivery_max_attempts} attempts and "
                    f"{policy.lost_attempts} lost attempts: earlier attempts ended without "
                    "reporting (their worker stopped)",
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
            _finish_delivery(session, row.id, claim, status="done", log=log)
        return RunOutcome("delivery", str(delivery_id), "done", attempt, log.id)
    except Superseded as stale:
        return record_superseded(
            db, tenant, "delivery", str(delivery_id), attempt, claim, log, stale
        )
    except Exception as exc:
        if isinstance(exc, NotFoundError) and exc.code == "delivery-not-found":
            raise
        return _delivery_failed(db, tenant, delivery_id, claim, log, exc, policy)


def _holds_delivery(row: DeliveryRow, claim: Claim) -> bool:
    return row.status == "pending" and row.fencing_token == claim.fencing_token


def _handler(session: Session, registry: PackageRegistry, name: str) -> tuple[LoadedPackage, Any]:
    package_name, handler_name = split_handler_id(name)
    if package_name not in active_packages(session):
        raise RunFailure(
            "handler-unavailable",
            f"package {package_name!r} of handler {name!r} is not installed in this tenant",
        )
    found = registry.find(package_name)
    handler = found.signal_handlers.get(handler_name) if isinstance(found, LoadedPackage) else None
    if handler is None or not isinstance(found, LoadedPackage):
        raise RunFailure(
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
    log: ExecutionLog | None = None,
) -> None:
    # With ``log`` (a success), the execution is written with the fenced UPDATE.
    now = utcnow()
    params = {
        "p_id": delivery_id,
        "p_token": claim.fencing_token,
        "p_status": status,
        "p_error": error,
        "p_next_attempt_at": next_attempt_at if status == "pending" else now,
        "p_completed_at": None if status == "pending" else now,
        "p_now": now,
    }
    if log is None:
        fenced = affected(session.execute(DELIVERY_FINISH, params))
    else:
        fenced = log.write_with(session, DELIVERY_FINISH, params, "succeeded", outcome=status)
    if fenced != 1:
        current = session.get(DeliveryRow, delivery_id, populate_existing=True)
        raise Superseded(
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
    error = error_of(exc)
    mark_rolled_back(log, error)
    attempt = int(log.summary.get("attempt", 0))
    try:
        with db.tenant_session(tenant) as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is None or not _holds_delivery(row, claim):
                raise Superseded(
                    row.status if row else "missing",
                    row.fencing_token if row else -1,
                    row.lease_owner if row else None,
                )
            attempt = row.attempts
            terminal = permanent(exc) or attempt >= policy.delivery_max_attempts
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
            if retry_at is not None:
                work_created(session, tenant, "delivery", retry_at)
    except Superseded as stale:
        return record_superseded(
            db, tenant, "delivery", str(delivery_id), attempt, claim, log, stale
        )
    return RunOutcome(
        "delivery",
        str(delivery_id),
        outcome,
        attempt,
        log.id,
        error=error,
        next_attempt_at=retry_at,
    )
