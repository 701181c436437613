"""Executions: the durable record of work performed, as ordered steps.

Two ways to record one:

- :class:`ExecutionLog` collects the steps of a short unit of work in memory and writes the
  execution row and all its steps at the end, in the unit of work's own transaction (one
  INSERT for the execution, one multi-row INSERT for the steps). Directive runs and
  deliveries use it; when their transaction rolls back, the runner writes the log in a
  new transaction, so a failed or superseded attempt is recorded too.
- :func:`start_execution`, :func:`add_step` and :func:`finish_execution` write as they go,
  for long units of work such as a chat turn.

Step kinds: ``llm_call``, ``tool_call``, ``handler_delivery``, ``directive_run``,
``signal_emitted``. Inputs, outputs and errors are stored with secret-looking keys
redacted. Every execution carries the correlation id of the work it belongs to.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, func, insert, select, update
from sqlalchemy.orm import Session

from fleetprompt_host.storage.base import new_id, utcnow
from fleetprompt_host.storage.models import ExecutionRow, ExecutionStepRow
from fleetprompt_host.storage.models.executions import EXECUTION_STATUSES, STEP_KINDS
from fleetprompt_sdk.errors import InvalidInputError, NotFoundError

from .jsonsafe import redact
from .leases import affected
from .statements import (
    EXECUTION_INSERT,
    STEP_INSERT,
    dialect_of,
    execution_inserts,
    execution_with_steps,
)

_EXECUTIONS: Any = ExecutionRow.__table__
_STEPS: Any = ExecutionStepRow.__table__


def _check_kind(kind: str) -> None:
    if kind not in STEP_KINDS:
        raise InvalidInputError(
            f"unknown execution step kind {kind!r}: expected one of {', '.join(STEP_KINDS)}",
            code="invalid-step-kind",
        )


def _check_status(status: str) -> None:
    if status not in EXECUTION_STATUSES:
        raise InvalidInputError(
            f"unknown execution status {status!r}: expected one of {', '.join(EXECUTION_STATUSES)}",
            code="invalid-execution-status",
        )


def _doc(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    cleaned = redact(value)
    return cleaned if isinstance(cleaned, dict) else {"value": cleaned}


@dataclass
class Step:
    """One step being recorded; fill ``output``/``error`` before the log is written."""

    kind: str
    name: str
    input: Any = None
    output: Any = None
    error: Any = None
    started_at: datetime = field(default_factory=utcnow)
    duration_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None

    def row(self, execution_id: str, seq: int) -> dict[str, Any]:
        """Return the values of this step's row."""
        return {
            "execution_id": execution_id,
            "seq": seq,
            "kind": self.kind,
            "name": self.name[:200],
            "input": _doc(self.input),
            "output": _doc(self.output),
            "error": _doc(self.error),
            "started_at": self.started_at,
            "duration_ms": self.duration_ms,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": self.cost,
        }


@dataclass
class ExecutionLog:
    """An execution recorded in memory and written in one go by :meth:`write`."""

    kind: str
    actor: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    started_at: datetime = field(default_factory=utcnow)
    steps: list[Step] = field(default_factory=list)
    _clock: float = field(default_factory=time.perf_counter)

    def step(self, kind: str, name: str, **values: Any) -> Step:
        """Append a finished step (``input``, ``output``, ``error``, ``duration_ms`` ...)."""
        _check_kind(kind)
        item = Step(kind=kind, name=name, **values)
        self.steps.append(item)
        return item

    @contextmanager
    def timed(self, kind: str, name: str, input: Any = None) -> Iterator[Step]:
        """Record a step around the block: its start, duration and any exception."""
        item = self.step(kind, name, input=input)
        start = time.perf_counter()
        try:
            yield item
        except BaseException as exc:
            if item.error is None:
                item.error = error_doc(exc)
            raise
        finally:
            item.duration_ms = round((time.perf_counter() - start) * 1000, 3)

    def elapsed_ms(self) -> float:
        """Milliseconds since the log was created."""
        return round((time.perf_counter() - self._clock) * 1000, 3)

    def rows(
        self, status: str, summary: dict[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Return the execution row (finished now, with ``status``) and its step rows."""
        _check_status(status)
        finished = self.started_at + timedelta(milliseconds=self.elapsed_ms())
        execution = {
            "id": self.id,
            "kind": self.kind,
            "status": status,
            "actor": self.actor,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "started_at": self.started_at,
            "finished_at": max(finished, self.started_at),
            "summary": redact({**self.summary, **summary, "duration_ms": self.elapsed_ms()}),
        }
        steps = [s.row(self.id, seq) for seq, s in enumerate(self.steps, start=1)]
        return execution, steps

    def write(self, session: Session, status: str, **summary: Any) -> str:
        """Insert the execution (finished now, with ``status``) and its steps; return its id."""
        execution, steps = self.rows(status, summary)
        if _one_statement(session, steps):
            # One round trip for the execution and its steps.
            session.execute(execution_with_steps(len(steps)), _bound(execution, steps))
            return self.id
        session.execute(EXECUTION_INSERT, execution)
        if steps:
            session.execute(STEP_INSERT, steps)
        return self.id

    def write_with(
        self,
        session: Session,
        statement: Update,
        params: dict[str, Any],
        status: str,
        **summary: Any,
    ) -> int:
        """Run ``statement`` (an UPDATE with ``params``) and :meth:`write` the log; return
        the UPDATE's row count.

        On PostgreSQL both go in one round trip (the inserts ride along as CTEs). The log
        is written whatever the count: a caller that finds the UPDATE fenced off rolls the
        transaction back, the log with it.
        """
        execution, steps = self.rows(status, summary)
        if _one_statement(session, steps):
            bound = {**params, **_bound(execution, steps)}
            return affected(session.execute(_update_with_execution(statement, len(steps)), bound))
        count = affected(session.execute(statement, params))
        self.write(session, status, **summary)
        return count


def _one_statement(session: Session, steps: list[dict[str, Any]]) -> bool:
    return bool(steps) and len(steps) <= 16 and dialect_of(session) == "postgresql"


def _bound(execution: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    params = {f"e_{name}": value for name, value in execution.items()}
    for n, step in enumerate(steps):
        params.update({f"s{n}_{name}": value for name, value in step.items()})
    return params


@functools.cache
def _update_with_execution(statement: Update, steps: int) -> Update:
    """PostgreSQL: ``statement`` with the execution and ``steps`` steps inserted as CTEs
    (bound as :func:`~fleetprompt_host.engine.statements.execution_inserts` says)."""
    execution, inserted = execution_inserts(steps)
    # Data-modifying CTEs must sit at the top level: both hang off the UPDATE. The steps
    # reference the execution row, so its CTE goes first; PostgreSQL checks the foreign key
    # at the end of the statement.
    return statement.add_cte(execution.cte("fp_fenced_execution"), inserted.cte("fp_fenced_steps"))


def error_doc(exc: BaseException) -> dict[str, Any]:
    """Return the structured ``{code, message}`` of an exception for durable records."""
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if not isinstance(code, str):
        code = "handler-error"
        message = f"{type(exc).__name__}: {message}"
    return {"code": code, "message": str(message)[:2000]}


# -- incremental recording ------------------------------------------------------------


def start_execution(
    session: Session,
    kind: str,
    *,
    actor: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    summary: dict[str, Any] | None = None,
) -> str:
    """Insert a ``running`` execution and return its id (the correlation id defaults to it)."""
    execution_id = new_id()
    session.execute(
        insert(ExecutionRow).values(
            id=execution_id,
            kind=kind,
            status="running",
            actor=actor,
            correlation_id=correlation_id or execution_id,
            causation_id=causation_id,
            started_at=utcnow(),
            summary=redact(summary or {}),
        )
    )
    return execution_id


def add_step(session: Session, execution_id: str, kind: str, name: str, **values: Any) -> int:
    """Append a step to a stored execution; return its ``seq`` (1-based, in order)."""
    _check_kind(kind)
    last = session.execute(
        select(func.max(ExecutionStepRow.seq)).where(ExecutionStepRow.execution_id == execution_id)
    ).scalar_one()
    seq = int(last or 0) + 1
    session.execute(
        insert(ExecutionStepRow).values(Step(kind, name, **values).row(execution_id, seq))
    )
    return seq


def finish_execution(
    session: Session, execution_id: str, status: str, summary: dict[str, Any] | None = None
) -> None:
    """Mark a stored execution finished with ``status``, merging ``summary`` into its own."""
    _check_status(status)
    row = session.get(ExecutionRow, execution_id)
    if row is None:
        raise NotFoundError(
            f"execution {execution_id!r} does not exist", code="execution-not-found"
        )
    merged = {**(row.summary or {}), **redact(summary or {})}
    session.execute(
        update(ExecutionRow)
        .where(ExecutionRow.id == execution_id)
        .values(status=status, finished_at=utcnow(), summary=merged)
    )
