"""Group commit: several claimed directives of one tenant in one transaction.

A worker holding a batch of claims would otherwise pay a transaction (a BEGIN, a COMMIT
and its WAL flush) per directive. :func:`run_directive_group` runs a prefix of the batch
in one transaction instead, keeping every guarantee of :func:`.runner.run_directive`:

- each directive's handler writes, buffered signals, lifecycle signals, execution record
  and fenced status change commit together, as before: the group only commits more of
  them at once. A crash before the commit leaves every directive of the group claimable
  again; a crash after it leaves them all done.
- The handlers run first, the finishing writes (signals, fenced UPDATEs) come after the
  last handler, so the tenant's signal counter lock is held only from the first finish to
  the commit, never while a handler works. A handler that wrote a signal itself (it
  requested a directive) closes the group after it for the same reason.
- When anything goes wrong at directive ``k`` (its handler raised, its claim went stale,
  its attempts are exhausted), the whole transaction rolls back; directives ``0..k-1``
  run again as a group (their handlers are called a second time, exactly as after a
  crash before commit, with the same idempotency keys), and ``k`` takes the single path,
  which records the failure or the stale attempt without calling its handler again.
- The group grows while ``keep_going()`` allows (the worker bounds it by time:
  :data:`GROUP_WINDOW_SECONDS`), so a directive's effects wait for their commit no longer
  than that window plus one handler. Host directives (installs ...) always run alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import DirectiveRow

from .batch import emit_fresh
from .contexts import DirectiveRunContext
from .executions import ExecutionLog
from .host_directives import host_directive
from .installed import remember_active_packages
from .leases import Claim, affected
from .outcomes import RunOutcome
from .pg_records import insert_executions
from .retry import DEFAULT_POLICY, RetryPolicy
from .runner import (
    call_directive,
    directive_failed,
    lifecycle_items,
    run_directive,
)
from .statements import (
    DIRECTIVE_FINISH,
    EXECUTION_INSERT,
    STEP_INSERT,
    active_packages_json,
    dialect_of,
    directives_succeeded,
)
from .worker_options import GROUP_WINDOW_SECONDS

#: The most directives one group takes: the statements that finish a group grow with
#: it, and past a few dozen rows they cost more per row than another commit does.
MAX_GROUP = 40


@dataclass
class _Ran:
    directive_id: str
    claim: Claim
    row: DirectiveRow
    log: ExecutionLog
    result: dict[str, Any] | None
    ctx: Any


class _Abort(Exception):
    """Directive ``index`` of the group cannot commit: roll the group back."""

    def __init__(self, index: int, error: Exception | None = None, log: Any = None) -> None:
        super().__init__(index)
        self.index, self.error, self.log = index, error, log


def _rows_statement(dialect: str) -> Any:
    return select(DirectiveRow, active_packages_json(dialect)).where(
        DirectiveRow.id.in_(bindparam("p_ids", expanding=True))
    )


def window(seconds: float = GROUP_WINDOW_SECONDS) -> Callable[[], bool]:
    """Return a ``keep_going`` that allows growing a group for ``seconds`` from now."""
    ends = time.monotonic() + seconds
    return lambda: time.monotonic() < ends


def run_directive_group(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    items: Sequence[tuple[str, Claim]],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    keep_going: Callable[[], bool] = lambda: True,
) -> list[RunOutcome | Exception]:
    """Run a prefix of the claimed ``items`` (see the module doc); return one entry per
    directive run, in order: at least one, all of them unless ``keep_going`` stopped the
    group early. An entry is the directive's outcome, or the exception the single path
    raised for it (a directive that does not exist). Raises only when nothing of the
    group was committed (an unreachable database)."""
    if not items:
        return []
    if len(items) == 1:
        return [_single(db, registry, tenant, *items[0], policy=policy)]
    try:
        return list(_run_together(db, registry, tenant, items, policy, keep_going))
    except _Abort as abort:
        done: list[RunOutcome | Exception] = []
        prefix = list(items[: abort.index])
        while prefix:
            more = run_directive_group(db, registry, tenant, prefix, policy=policy)
            done += more
            del prefix[: len(more)]
        directive_id, claim = items[abort.index]
        if abort.error is None:
            done.append(_single(db, registry, tenant, directive_id, claim, policy=policy))
        else:
            done.append(
                directive_failed(
                    db, registry, tenant, directive_id, claim, abort.log, abort.error, policy
                )
            )
        return done


def _single(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    directive_id: str,
    claim: Claim,
    *,
    policy: RetryPolicy,
) -> RunOutcome | Exception:
    try:
        return run_directive(db, registry, tenant, directive_id, claim, policy=policy)
    except Exception as exc:
        return exc


def _run_together(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    items: Sequence[tuple[str, Claim]],
    policy: RetryPolicy,
    keep_going: Callable[[], bool],
) -> list[RunOutcome]:
    ran: list[_Ran] = []
    with db.tenant_session(tenant) as session:
        found = session.execute(
            _rows_statement(dialect_of(session)), {"p_ids": [i for i, _ in items]}
        ).all()
        rows = {row.id: row for row, _ in found}
        if found:
            remember_active_packages(session, found[0][1])
        for index, (directive_id, claim) in enumerate(items):
            if ran and (len(ran) >= MAX_GROUP or not keep_going()):
                break
            row = rows.get(directive_id)
            if (
                row is None
                or row.status != "running"
                or row.fencing_token != claim.fencing_token
                or policy.exhausted(row.attempts, row.max_attempts)
                or host_directive(row.type) is not None
            ):
                if not ran:
                    # Nothing to roll back: take the single path for this one alone.
                    raise _Abort(index)
                break
            log = ExecutionLog(
                "directive",
                actor=row.actor,
                correlation_id=row.correlation_id,
                causation_id=directive_id,
                summary={
                    "directive_id": directive_id,
                    "owner": claim.owner,
                    "fence": claim.fencing_token,
                    "type": row.type,
                    "attempt": row.attempts,
                },
            )
            try:
                result, ctx = call_directive(session, registry, tenant, row, claim, log)
                session.flush()
            except Exception as exc:
                raise _Abort(index, exc, log) from exc
            ran.append(_Ran(directive_id, claim, row, log, result, ctx))
            if ctx.holds_signal_order:
                break
        _finish_all(session, registry, tenant, ran)
    return [
        RunOutcome(
            "directive",
            item.directive_id,
            "succeeded",
            item.row.attempts,
            item.log.id,
            result=item.result,
        )
        for item in ran
    ]


def _finish_all(session: Session, registry: PackageRegistry, tenant: str, ran: list[_Ran]) -> None:
    """Write what the group's handlers left buffered, then finish the whole group: its
    lifecycle signals in one batch (the counter lock first, as everywhere), the fenced
    status changes (one statement on PostgreSQL) and the execution records."""
    for index, item in enumerate(ran):
        try:
            if isinstance(item.ctx, DirectiveRunContext):
                item.ctx.flush_signals()
        except Exception as exc:
            raise _Abort(index, exc, item.log) from exc
    try:
        emit_fresh(
            session,
            registry,
            tenant,
            [s for item in ran for s in lifecycle_items(item.row, "succeeded", item.result)],
        )
        finished = _fence(session, ran, utcnow())
    except Exception:
        # Not one directive's doing: the first one takes the single path, which either
        # succeeds alone or reports the trouble; the rest form the next group.
        raise _Abort(0) from None
    for index, item in enumerate(ran):
        if item.directive_id not in finished:
            raise _Abort(index)
    executions, steps = [], []
    for item in ran:
        execution, rows = item.log.rows("succeeded", {"outcome": "succeeded"})
        executions.append(execution)
        steps += rows
    if dialect_of(session) == "postgresql":
        insert_executions(session, executions, steps)
        return
    session.execute(EXECUTION_INSERT, executions)
    session.execute(STEP_INSERT, steps)


def _fence(session: Session, ran: list[_Ran], now: datetime) -> set[str]:
    """Mark the group's directives succeeded where they still carry our claim; return
    the ids of those."""
    if dialect_of(session) == "postgresql":
        params: dict[str, Any] = {"p_now": now}
        for n, item in enumerate(ran):
            params.update(
                {
                    f"id_{n}": item.directive_id,
                    f"token_{n}": item.claim.fencing_token,
                    f"result_{n}": item.result,
                }
            )
        return set(session.execute(directives_succeeded(len(ran)), params).scalars())
    finished = set()
    for item in ran:
        params = {
            "p_id": item.directive_id,
            "p_token": item.claim.fencing_token,
            "p_status": "succeeded",
            "p_result": item.result,
            "p_error": None,
            "p_run_after": item.row.run_after,
            "p_completed_at": now,
            "p_now": now,
        }
        if affected(session.execute(DIRECTIVE_FINISH, params)) == 1:
            finished.add(item.directive_id)
    return finished
