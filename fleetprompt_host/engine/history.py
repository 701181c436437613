"""Reading directives, deliveries and executions back (for the CLI, the API and audit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetprompt_host.storage.models import (
    DeliveryRow,
    DirectiveRow,
    ExecutionRow,
    ExecutionStepRow,
)
from fleetprompt_host.storage.models.directives import DIRECTIVE_STATUSES
from fleetprompt_host.storage.models.executions import EXECUTION_STATUSES
from fleetprompt_sdk.errors import InvalidInputError, NotFoundError
from fleetprompt_sdk.naming import pattern_matches

from .queries import check_pattern


def _one_of(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value is not None and value not in allowed:
        raise InvalidInputError(
            f"invalid {what} {value!r}: expected one of {', '.join(allowed)}",
            code=f"invalid-{what}",
        )


def list_directives(
    session: Session,
    *,
    status: str | None = None,
    type_pattern: str | None = None,
    correlation_id: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[DirectiveRow]:
    """Return directives, newest request first, filtered as given."""
    _one_of(status, DIRECTIVE_STATUSES, "status")
    stmt = select(DirectiveRow)
    if status is not None:
        stmt = stmt.where(DirectiveRow.status == status)
    if correlation_id is not None:
        stmt = stmt.where(DirectiveRow.correlation_id == correlation_id)
    if since is not None:
        stmt = stmt.where(DirectiveRow.requested_at >= since)
    if type_pattern is not None:
        check_pattern(type_pattern)
        if "*" not in type_pattern:
            stmt = stmt.where(DirectiveRow.type == type_pattern)
        else:
            literal = type_pattern.split("*", 1)[0]
            stmt = stmt.where(DirectiveRow.type.startswith(literal, autoescape=True))
    stmt = stmt.order_by(DirectiveRow.requested_at.desc(), DirectiveRow.id)
    rows: list[DirectiveRow] = []
    for row in session.execute(stmt).scalars():
        if type_pattern and "*" in type_pattern and not pattern_matches(type_pattern, row.type):
            continue
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows


def find_directive(session: Session, ref: str) -> DirectiveRow:
    """Return the directive with id ``ref`` (or a unique id prefix of 8+ characters)."""
    row = session.get(DirectiveRow, ref)
    if row is None and len(ref) >= 8:
        found = list(
            session.execute(
                select(DirectiveRow).where(DirectiveRow.id.startswith(ref)).limit(2)
            ).scalars()
        )
        row = found[0] if len(found) == 1 else None
    if row is None:
        raise NotFoundError(f"directive {ref!r} does not exist", code="directive-not-found")
    return row


def executions_of(session: Session, directive: DirectiveRow) -> list[ExecutionRow]:
    """Return the executions (attempts) of a directive, oldest first."""
    stmt = select(ExecutionRow).where(
        ExecutionRow.causation_id == directive.id, ExecutionRow.kind == "directive"
    )
    if directive.correlation_id is not None:
        stmt = stmt.where(ExecutionRow.correlation_id == directive.correlation_id)
    return list(session.execute(stmt.order_by(ExecutionRow.started_at)).scalars())


def deliveries_of(session: Session, signal_id: str) -> list[DeliveryRow]:
    """Return the deliveries of a signal, first deliveries then replays, in order."""
    return list(
        session.execute(
            select(DeliveryRow).where(DeliveryRow.signal_id == signal_id).order_by(DeliveryRow.id)
        ).scalars()
    )


def list_executions(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = None,
    correlation_id: str | None = None,
    limit: int = 50,
) -> list[ExecutionRow]:
    """Return executions, newest first, filtered as given."""
    _one_of(status, EXECUTION_STATUSES, "status")
    stmt = select(ExecutionRow)
    if kind is not None:
        stmt = stmt.where(ExecutionRow.kind == kind)
    if status is not None:
        stmt = stmt.where(ExecutionRow.status == status)
    if correlation_id is not None:
        stmt = stmt.where(ExecutionRow.correlation_id == correlation_id)
    stmt = stmt.order_by(ExecutionRow.started_at.desc(), ExecutionRow.id).limit(limit)
    return list(session.execute(stmt).scalars())


@dataclass(frozen=True)
class ExecutionView:
    """An execution and its ordered steps."""

    execution: ExecutionRow
    steps: list[ExecutionStepRow]

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form used by ``executions show --json``."""
        e = self.execution
        return {
            **execution_json(e),
            "steps": [step_json(s) for s in self.steps],
        }


def find_execution(session: Session, ref: str) -> ExecutionView:
    """Return execution ``ref`` (id or unique prefix of 8+ characters) with its steps."""
    row = session.get(ExecutionRow, ref)
    if row is None and len(ref) >= 8:
        found = list(
            session.execute(
                select(ExecutionRow).where(ExecutionRow.id.startswith(ref)).limit(2)
            ).scalars()
        )
        row = found[0] if len(found) == 1 else None
    if row is None:
        raise NotFoundError(f"execution {ref!r} does not exist", code="execution-not-found")
    return ExecutionView(row, steps_of(session, row.id))


def steps_of(session: Session, execution_id: str) -> list[ExecutionStepRow]:
    """Return an execution's steps in order."""
    return list(
        session.execute(
            select(ExecutionStepRow)
            .where(ExecutionStepRow.execution_id == execution_id)
            .order_by(ExecutionStepRow.seq)
        ).scalars()
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def execution_json(e: ExecutionRow) -> dict[str, Any]:
    """Return an execution row as JSON."""
    return {
        "id": e.id,
        "kind": e.kind,
        "status": e.status,
        "outcome": (e.summary or {}).get("outcome"),
        "actor": e.actor,
        "correlation_id": e.correlation_id,
        "causation_id": e.causation_id,
        "started_at": _iso(e.started_at),
        "finished_at": _iso(e.finished_at),
        "summary": e.summary,
    }


def step_json(s: ExecutionStepRow) -> dict[str, Any]:
    """Return an execution step as JSON."""
    return {
        "seq": s.seq,
        "kind": s.kind,
        "name": s.name,
        "started_at": _iso(s.started_at),
        "duration_ms": s.duration_ms,
        "input": s.input,
        "output": s.output,
        "error": s.error,
        "tokens_in": s.tokens_in,
        "tokens_out": s.tokens_out,
        "cost": s.cost,
    }


def directive_json(d: DirectiveRow) -> dict[str, Any]:
    """Return a directive row as JSON."""
    return {
        "id": d.id,
        "type": d.type,
        "status": d.status,
        "params": d.params,
        "idempotency_key": d.idempotency_key,
        "actor": d.actor,
        "role": d.role,
        "attempts": d.attempts,
        "max_attempts": d.max_attempts,
        "correlation_id": d.correlation_id,
        "causation_id": d.causation_id,
        "requested_at": _iso(d.requested_at),
        "run_after": _iso(d.run_after),
        "started_at": _iso(d.started_at),
        "completed_at": _iso(d.completed_at),
        "result": d.result,
        "error": d.error,
    }


def delivery_json(d: DeliveryRow) -> dict[str, Any]:
    """Return a delivery row as JSON."""
    return {
        "id": d.id,
        "signal_id": d.signal_id,
        "signal_seq": d.signal_seq,
        "handler": d.handler,
        "status": d.status,
        "attempts": d.attempts,
        "replay": d.replay,
        "next_attempt_at": _iso(d.next_attempt_at),
        "completed_at": _iso(d.completed_at),
        "last_error": d.last_error,
    }
