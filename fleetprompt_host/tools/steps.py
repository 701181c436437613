"""The execution record of a chat turn or a tool call, written in as few transactions as
possible.

:class:`ExecutionRecorder` knows its execution id before anything is written (the id is
the correlation id of the directives the work requests), queues steps in memory and
writes them, in order, inside transactions that commit anyway: the round's messages, a
directive request, the end of the work. A short unit of work that requests nothing is
written once, finished, in one transaction (on PostgreSQL in one statement,
:func:`.pg_records.insert_execution` on the psycopg connection, which needs no
transaction around it: it runs on
:meth:`~fleetprompt_host.storage.Database.tenant_autocommit`); a longer one is
inserted as ``running`` at its first flush and finished with one UPDATE. Steps are the
engine's :class:`~fleetprompt_host.engine.executions.Step` (inputs, outputs and errors
redacted); rows go in as prebuilt Core INSERTs on the session's connection, which cost a
fraction of the ORM's execution path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, insert, update

from fleetprompt_host.engine.executions import ExecutionLog, Step
from fleetprompt_host.engine.jsonsafe import redact
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import ExecutionRow, ExecutionStepRow

_EXECUTIONS = cast(Table, ExecutionRow.__table__)
_STEPS = cast(Table, ExecutionStepRow.__table__)
#: Beyond this many steps, one statement's parameters outgrow what it saves.
MAX_STEPS_IN_ONE_STATEMENT = 16
# Built once: executing a prebuilt statement with fresh parameters is a compiled-cache
# hit, where building ``insert().values(...)`` anew costs more than the INSERT itself.
_INSERT_EXECUTION = insert(_EXECUTIONS)
_INSERT_STEPS = insert(_STEPS)
_FINISH_EXECUTION = (
    update(_EXECUTIONS)
    .where(_EXECUTIONS.c.id == bindparam("execution_id"))
    .values(
        status=bindparam("new_status", type_=_EXECUTIONS.c.status.type),
        finished_at=bindparam("new_finished_at", type_=_EXECUTIONS.c.finished_at.type),
        summary=bindparam("new_summary", type_=_EXECUTIONS.c.summary.type),
    )
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

    from fleetprompt_host.storage import Database


class ExecutionRecorder:
    """One execution of kind ``kind`` in ``tenant``, recorded as it goes."""

    def __init__(
        self,
        db: Database,
        tenant: str,
        kind: str,
        *,
        actor: str | None,
        correlation_id: str | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        self.db = db
        self.tenant = tenant
        self.log = ExecutionLog(kind=kind, actor=actor, summary=dict(summary or {}))
        self.log.correlation_id = correlation_id or self.log.id
        self.inserted = False
        self.written = 0

    @property
    def id(self) -> str:
        """The execution id (known before anything is written)."""
        return self.log.id

    @property
    def correlation_id(self) -> str:
        """The correlation id shared by everything the work causes."""
        return self.log.correlation_id or self.log.id

    def add(self, kind: str, name: str, **values: Any) -> Step:
        """Queue a finished step (``input``, ``output``, ``error``, ``duration_ms`` ...)."""
        return self.log.step(kind, name, **values)

    @property
    def steps(self) -> list[Step]:
        """Every step so far, written or not."""
        return self.log.steps

    def flush(self, session: Session | None = None) -> None:
        """Write the execution (as running, once) and the queued steps in ``session``."""
        if session is None:
            with self.db.tenant_session(self.tenant) as own:
                self.flush(own)
            return
        conn = session.connection()
        if not self.inserted:
            self._insert(conn, "running", None, self.log.summary)
        self._write_steps(conn)

    def finish(self, status: str, session: Session | None = None, **summary: Any) -> None:
        """Write what is queued and mark the execution ``status`` (finished now).

        Without ``session`` the write gets its own: when it is one statement (PostgreSQL,
        nothing written before), that statement commits on its own (atomic, durable once
        it returns) with no transaction around it; otherwise one transaction.
        """
        if session is not None:
            self._finish(session.connection(), status, summary)
        elif self._finishes_in_one_statement():
            with self.db.tenant_autocommit(self.tenant) as conn:
                self._finish(conn, status, summary)
        else:
            with self.db.tenant_session(self.tenant) as own:
                self._finish(own.connection(), status, summary)

    def _finishes_in_one_statement(self) -> bool:
        """Whether :meth:`_write_once` will write everything in one statement."""
        if self.inserted:
            return False
        steps = len(self.log.steps)
        return steps == 0 or (
            steps <= MAX_STEPS_IN_ONE_STATEMENT and self.db.dialect == "postgresql"
        )

    def _finish(self, conn: Connection, status: str, summary: dict[str, Any]) -> None:
        log = self.log
        if not self.inserted:
            self._write_once(conn, status, summary)
            return
        merged = {**log.summary, **summary, "duration_ms": log.elapsed_ms()}
        self._write_steps(conn)
        # The whole summary is known here: one UPDATE, no read back.
        conn.execute(
            _FINISH_EXECUTION,
            {
                "execution_id": self.id,
                "new_status": status,
                "new_finished_at": utcnow(),
                "new_summary": redact(merged),
            },
        )

    def _write_once(self, conn: Connection, status: str, summary: dict[str, Any]) -> None:
        """Insert the finished execution and all its steps (nothing was written before)."""
        execution, steps = self.log.rows(status, summary)
        if len(steps) <= MAX_STEPS_IN_ONE_STATEMENT and conn.dialect.name == "postgresql":
            # One round trip: the execution rides along as a CTE of the steps' INSERT,
            # as SQL text on the psycopg connection (see .pg_records).
            from .pg_records import insert_execution

            insert_execution(conn, execution, steps)
        else:
            conn.execute(_INSERT_EXECUTION, execution)
            if steps:
                conn.execute(_INSERT_STEPS, steps)
        self.inserted = True
        self.written = len(steps)

    def _insert(
        self, conn: Connection, status: str, finished_at: Any, summary: dict[str, Any]
    ) -> None:
        log = self.log
        conn.execute(
            _INSERT_EXECUTION,
            {
                "id": log.id,
                "kind": log.kind,
                "status": status,
                "actor": log.actor,
                "correlation_id": self.correlation_id,
                "causation_id": log.causation_id,
                "started_at": log.started_at,
                "finished_at": finished_at,
                "summary": redact(summary),
            },
        )
        self.inserted = True

    def _write_steps(self, conn: Connection) -> None:
        fresh = self.log.steps[self.written :]
        if fresh:
            rows = [s.row(self.id, self.written + i) for i, s in enumerate(fresh, start=1)]
            conn.execute(_INSERT_STEPS, rows)
            self.written += len(fresh)
