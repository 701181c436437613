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

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import DirectiveRow
from fleetprompt_sdk.errors import InvalidInputError, NotFoundError

from .batch import emit_fresh
from .contexts import DirectiveRunContext, HostDirectiveContext
from .delivery_runner import deliver_signal
from .directives import load, resolve_target, to_model
from .executions import ExecutionLog
from .installed import remember_active_packages
from .jsonsafe import check_json, json_size
from .leases import Claim, affected
from .lifecycle import lifecycle_input
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
from .signals import SignalInput
from .statements import DIRECTIVE_FINISH, dialect_of, directive_for_run
from .wakeups import work_created

__all__ = ["Claim", "RunOutcome", "deliver_signal", "run_directive"]

MAX_RESULT_BYTES = 64 * 1024


def _check_result(result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    if not isinstance(result, dict):
        raise RunFailure(
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
        raise RunFailure("directive-result-invalid", exc.message) from None
    if json_size(result) > MAX_RESULT_BYTES:
        raise RunFailure(
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
            # The directive and the tenant's active packages in one round trip.
            found = session.execute(
                directive_for_run(dialect_of(session)), {"p_id": directive_id}
            ).one_or_none()
            if found is None:
                raise NotFoundError(
                    f"directive {directive_id!r} does not exist", code="directive-not-found"
                )
            row = found[0]
            remember_active_packages(session, found[1])
            attempt = row.attempts
            log.actor, log.correlation_id = row.actor, row.correlation_id
            log.summary.update(type=row.type, attempt=attempt)
            if row.status != "running" or row.fencing_token != claim.fencing_token:
                raise Superseded(row.status, row.fencing_token, row.lease_owner)
            if policy.exhausted(attempt, row.max_attempts):
                raise RunFailure(
                    "attempts-exhausted",
                    f"attempt {attempt} exceeds max_attempts {row.max_attempts} and "
                    f"{policy.lost_attempts} lost attempts: earlier attempts ended without "
                    "reporting (their worker stopped)",
                )
            result, ctx = call_directive(session, registry, tenant, row, claim, log)
            if isinstance(ctx, DirectiveRunContext):
                ctx.flush_signals()
            session.flush()
            finish_directive(
                session, registry, tenant, row, claim, status="succeeded", result=result, log=log
            )
        return RunOutcome("directive", directive_id, "succeeded", attempt, log.id, result=result)
    except Superseded as stale:
        return record_superseded(db, tenant, "directive", directive_id, attempt, claim, log, stale)
    except Exception as exc:
        if isinstance(exc, NotFoundError) and exc.code == "directive-not-found":
            raise
        return directive_failed(db, registry, tenant, directive_id, claim, log, exc, policy)


def call_directive(
    session: Session,
    registry: PackageRegistry,
    tenant: str,
    row: DirectiveRow,
    claim: Claim,
    log: ExecutionLog,
) -> tuple[dict[str, Any] | None, Any]:
    """Call the handler of claimed ``row``; return its checked result and its context.

    Signals a package handler emitted stay buffered in the context (``flush_signals``):
    the caller writes them when it finishes the directive.
    """
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
            session,
            registry,
            tenant,
            directive=to_model(row, tenant),
            fencing_token=claim.fencing_token,
            **common,
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
        result = _check_result(target.handler(ctx, to_model(row, tenant)))
        step.output = result
    return result, ctx


def lifecycle_items(
    row: DirectiveRow,
    status: str,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> list[SignalInput]:
    """The lifecycle signals that finishing an attempt of ``row`` with ``status`` writes."""
    attempt = row.attempts
    # Written at the end to keep the tenant's signal counter free while the handler runs;
    # occurred_at still says when the attempt started.
    items = [lifecycle_input(row, "started", mark=attempt, occurred_at=row.started_at)]
    if status in ("succeeded", "failed"):
        extra: dict[str, Any] = {"result": result} if status == "succeeded" else {"error": error}
        if status == "succeeded" and json_size(extra) > 16 * 1024:
            extra = {"result_truncated": True}
        items.append(lifecycle_input(row, status, mark=attempt, extra=extra))
    return items


def finish_directive(
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
    log: ExecutionLog | None = None,
) -> None:
    """Lifecycle signals first (counter lock before row lock, everywhere), then the fence.

    With ``log``, the execution is written (outcome ``status``) with the fenced UPDATE.
    """
    now = utcnow()
    emit_fresh(session, registry, tenant, lifecycle_items(row, status, result, error))
    params = {
        "p_id": row.id,
        "p_token": claim.fencing_token,
        "p_status": status,
        "p_result": result if status == "succeeded" else None,
        "p_error": error,
        "p_run_after": run_after if status == "requested" else row.run_after,
        "p_completed_at": None if status == "requested" else now,
        "p_now": now,
    }
    if log is None:
        fenced = affected(session.execute(DIRECTIVE_FINISH, params))
    else:
        fenced = log.write_with(session, DIRECTIVE_FINISH, params, status, outcome=status)
    if fenced != 1:
        current = session.get(DirectiveRow, row.id, populate_existing=True)
        raise Superseded(
            current.status if current else "missing",
            current.fencing_token if current else -1,
            current.lease_owner if current else None,
        )


def directive_failed(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    directive_id: str,
    claim: Claim,
    log: ExecutionLog,
    exc: Exception,
    policy: RetryPolicy,
) -> RunOutcome:
    """Record, in a transaction of its own, that a run of ``directive_id`` raised ``exc``:
    retried later or failed for good (see the module doc, point 4)."""
    error = error_of(exc)
    mark_rolled_back(log, error)
    try:
        with db.tenant_session(tenant) as session:
            row = load(session, directive_id)
            attempt = row.attempts
            if row.status != "running" or row.fencing_token != claim.fencing_token:
                raise Superseded(row.status, row.fencing_token, row.lease_owner)
            terminal = permanent(exc) or attempt >= row.max_attempts
            now = utcnow()
            retry_at = None if terminal else policy.next_at(now, attempt)
            finish_directive(
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
            if retry_at is not None:
                work_created(session, tenant, "directive", retry_at)
    except Superseded as stale:
        return record_superseded(db, tenant, "directive", directive_id, attempt, claim, log, stale)
    return RunOutcome(
        "directive", directive_id, outcome, attempt, log.id, error=error, next_attempt_at=retry_at
    )
