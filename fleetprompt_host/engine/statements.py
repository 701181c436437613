"""Statements on the engine's hot paths, built once per dialect and executed with params.

Building an INSERT with ``.values(**row)`` on every call costs more than running it;
these statements are built once and take their values as bind parameters, so emitting a
signal spends its time in the database, not in statement construction.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    cast,
    func,
    insert,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable, Insert

from fleetprompt_host.storage.models import (
    CounterRow,
    DeliveryRow,
    DirectiveRow,
    ExecutionRow,
    ExecutionStepRow,
    InstallationRow,
    SignalRow,
)

_SIGNALS = SignalRow.__table__
_COUNTERS = CounterRow.__table__
_DELIVERIES = DeliveryRow.__table__
_INSTALLATIONS = InstallationRow.__table__


def dialect_of(session: Session) -> str:
    """``"postgresql"`` or ``"sqlite"``."""
    return str(session.get_bind().dialect.name)


@functools.cache
def signal_insert(dialect: str) -> Executable:
    """INSERT a signal unless it duplicates a unique key; RETURNING its id."""
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return upsert(_SIGNALS).on_conflict_do_nothing().returning(_SIGNALS.c.id)


@functools.cache
def counter_allocate(dialect: str) -> Executable:
    """Reserve ``:count`` numbers of counter ``:name``; RETURNING the last one.

    The same statement as :func:`fleetprompt_host.storage.models.counters.allocate`
    (whose row lock orders signals), built once.
    """
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = upsert(_COUNTERS).values(name=bindparam("name"), value=bindparam("count"))
    return stmt.on_conflict_do_update(
        index_elements=[_COUNTERS.c.name],
        set_={"value": _COUNTERS.c.value + bindparam("count")},
    ).returning(_COUNTERS.c.value)


def allocate_fast(session: Session, name: str, count: int = 1) -> int:
    """Reserve ``count`` numbers of counter ``name`` and return the last one."""
    result = session.execute(counter_allocate(dialect_of(session)), {"name": name, "count": count})
    return int(result.scalar_one())


DELIVERY_INSERT = insert(_DELIVERIES)
ACTIVE_PACKAGES = select(_INSTALLATIONS.c.package).where(_INSTALLATIONS.c.status == "installed")


@functools.cache
def signal_insert_numbered(dialect: str, counter: str) -> Executable:
    """PostgreSQL: allocate the next ``seq`` and insert the signal in one statement.

    ``WITH c AS (counter upsert RETURNING value) INSERT INTO signals SELECT ... FROM c
    ON CONFLICT DO NOTHING RETURNING id, seq``: one round trip instead of two, with the
    same counter row lock. The counter moves even when the insert is a duplicate (the
    caller hands the number back).
    """
    assert dialect == "postgresql"
    bump = (
        postgresql.insert(_COUNTERS)
        .values(name=counter, value=1)
        .on_conflict_do_update(
            index_elements=[_COUNTERS.c.name], set_={"value": _COUNTERS.c.value + 1}
        )
        .returning(_COUNTERS.c.value)
        .cte("fp_next_seq")
    )
    columns = [c for c in _SIGNALS.c if c.name not in ("seq", "recorded_at")]
    source = select(
        *[bindparam(c.name, type_=c.type) for c in columns],
        bump.c.value.label("seq"),
        # Read after the counter lock is held, so recorded_at follows seq order.
        func.clock_timestamp().label("recorded_at"),
    )
    return (
        postgresql.insert(_SIGNALS)
        .from_select([*(c.name for c in columns), "seq", "recorded_at"], source)
        .on_conflict_do_nothing()
        .returning(_SIGNALS.c.id, _SIGNALS.c.seq, _SIGNALS.c.recorded_at)
    )


_DIRECTIVES = DirectiveRow.__table__
_EXECUTIONS = ExecutionRow.__table__
_STEPS = ExecutionStepRow.__table__

#: Claim a due directive: ``:p_id``, ``:p_now``, ``:p_owner``, ``:p_expires``; RETURNING the token.
DIRECTIVE_CLAIM = (
    update(_DIRECTIVES)
    .where(
        _DIRECTIVES.c.id == bindparam("p_id"),
        or_(
            and_(
                _DIRECTIVES.c.status == "requested",
                _DIRECTIVES.c.run_after <= bindparam("p_now", type_=_DIRECTIVES.c.run_after.type),
            ),
            and_(
                _DIRECTIVES.c.status == "running",
                _DIRECTIVES.c.lease_expires_at
                < bindparam("p_now", type_=_DIRECTIVES.c.run_after.type),
            ),
        ),
    )
    .values(
        status="running",
        attempts=_DIRECTIVES.c.attempts + 1,
        started_at=bindparam("p_now", type_=_DIRECTIVES.c.run_after.type),
        lease_owner=bindparam("p_owner"),
        lease_expires_at=bindparam("p_expires", type_=_DIRECTIVES.c.run_after.type),
        fencing_token=_DIRECTIVES.c.fencing_token + 1,
        updated_at=bindparam("p_now", type_=_DIRECTIVES.c.run_after.type),
    )
    .returning(_DIRECTIVES.c.fencing_token)
)

#: Claim a due delivery: ``:p_id``, ``:p_now``, ``:p_owner``, ``:p_expires``; RETURNING the token.
DELIVERY_CLAIM = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id == bindparam("p_id"),
        _DELIVERIES.c.status == "pending",
        _DELIVERIES.c.next_attempt_at
        <= bindparam("p_now", type_=_DELIVERIES.c.next_attempt_at.type),
        or_(
            _DELIVERIES.c.lease_expires_at.is_(None),
            _DELIVERIES.c.lease_expires_at
            < bindparam("p_now", type_=_DELIVERIES.c.next_attempt_at.type),
        ),
    )
    .values(
        attempts=_DELIVERIES.c.attempts + 1,
        lease_owner=bindparam("p_owner"),
        lease_expires_at=bindparam("p_expires", type_=_DELIVERIES.c.next_attempt_at.type),
        fencing_token=_DELIVERIES.c.fencing_token + 1,
        updated_at=bindparam("p_now", type_=_DELIVERIES.c.next_attempt_at.type),
    )
    .returning(_DELIVERIES.c.fencing_token)
)

#: Finish a running directive if it still carries ``:p_token`` (the fence). Binds every
#: column it sets: ``:p_status``, ``:p_result``, ``:p_error``, ``:p_run_after``,
#: ``:p_completed_at``, ``:p_now``.
DIRECTIVE_FINISH = (
    update(_DIRECTIVES)
    .where(
        _DIRECTIVES.c.id == bindparam("p_id"),
        _DIRECTIVES.c.status == "running",
        _DIRECTIVES.c.fencing_token == bindparam("p_token"),
    )
    .values(
        status=bindparam("p_status"),
        lease_owner=None,
        lease_expires_at=None,
        result=bindparam("p_result", type_=_DIRECTIVES.c.result.type),
        error=bindparam("p_error", type_=_DIRECTIVES.c.error.type),
        run_after=bindparam("p_run_after", type_=_DIRECTIVES.c.run_after.type),
        completed_at=bindparam("p_completed_at", type_=_DIRECTIVES.c.completed_at.type),
        updated_at=bindparam("p_now", type_=_DIRECTIVES.c.updated_at.type),
    )
)

#: Finish a pending delivery if it still carries ``:p_token``: ``:p_status``, ``:p_error``,
#: ``:p_next_attempt_at``, ``:p_completed_at``, ``:p_now``.
DELIVERY_FINISH = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id == bindparam("p_id"),
        _DELIVERIES.c.status == "pending",
        _DELIVERIES.c.fencing_token == bindparam("p_token"),
    )
    .values(
        status=bindparam("p_status"),
        lease_owner=None,
        lease_expires_at=None,
        last_error=bindparam("p_error", type_=_DELIVERIES.c.last_error.type),
        next_attempt_at=bindparam("p_next_attempt_at", type_=_DELIVERIES.c.next_attempt_at.type),
        completed_at=bindparam("p_completed_at", type_=_DELIVERIES.c.completed_at.type),
        updated_at=bindparam("p_now", type_=_DELIVERIES.c.updated_at.type),
    )
)

EXECUTION_INSERT = insert(_EXECUTIONS)
STEP_INSERT = insert(_STEPS)
DIRECTIVE_BY_ID = select(_DIRECTIVES).where(_DIRECTIVES.c.id == bindparam("p_id"))


@functools.cache
def signals_insert_numbered(counter: str, rows: int) -> Executable:
    """PostgreSQL: number and insert ``rows`` signals in one statement (see
    :func:`signal_insert_numbered`); bind ``:<column>_<n>`` for row ``n``. RETURNING the
    id, seq and recorded_at of each row written, in order."""
    bump = (
        postgresql.insert(_COUNTERS)
        .values(name=counter, value=rows)
        .on_conflict_do_update(
            index_elements=[_COUNTERS.c.name], set_={"value": _COUNTERS.c.value + rows}
        )
        .returning(_COUNTERS.c.value)
        .cte("fp_next_seqs")
    )
    columns = [c for c in _SIGNALS.c if c.name not in ("seq", "recorded_at")]
    selects = [
        select(
            *[bindparam(f"{c.name}_{n}", type_=c.type) for c in columns],
            (bump.c.value - (rows - 1 - n)).label("seq"),
            func.clock_timestamp().label("recorded_at"),
        )
        for n in range(rows)
    ]
    source = selects[0] if rows == 1 else union_all(*selects)
    return (
        postgresql.insert(_SIGNALS)
        .from_select([*(c.name for c in columns), "seq", "recorded_at"], source)
        .on_conflict_do_nothing()
        .returning(_SIGNALS.c.id, _SIGNALS.c.seq, _SIGNALS.c.recorded_at)
    )


def typed_param(name: str, type_: Any) -> Any:
    """A bind parameter cast to its type (in a UNION, PostgreSQL would guess text)."""
    return cast(bindparam(name, type_=type_), type_)


def execution_inserts(steps: int) -> tuple[Insert, Insert]:
    """The INSERT of an execution, bound as ``:e_<column>``, and the INSERT ... SELECT of
    its ``steps`` steps, bound as ``:s<n>_<column>``: pieces of one-statement writes."""
    execution = insert(_EXECUTIONS).values(
        {c.name: bindparam(f"e_{c.name}", type_=c.type) for c in _EXECUTIONS.c}
    )
    names = [c.name for c in _STEPS.c if c.name != "id"]
    # INSERT ... SELECT (not a multi-row VALUES, which SQLAlchemy cannot cache compiled).
    # Explicit casts: in a UNION, PostgreSQL would guess text for a NULL float.
    rows = [
        select(*[typed_param(f"s{n}_{name}", _STEPS.c[name].type) for name in names])
        for n in range(steps)
    ]
    source = rows[0] if steps == 1 else union_all(*rows)
    return execution, insert(_STEPS).from_select(names, source)


@functools.cache
def execution_with_steps(steps: int) -> Executable:
    """PostgreSQL: insert an execution and its ``steps`` steps in one statement (bound as
    :func:`execution_inserts` says)."""
    execution, inserted = execution_inserts(steps)
    return inserted.add_cte(execution.cte("fp_execution"))


def active_packages_json(dialect: str) -> Any:
    """A scalar subquery: the tenant's active packages as a JSON array."""
    package = _INSTALLATIONS.c.package
    if dialect == "postgresql":
        agg = func.coalesce(func.json_agg(package), text("'[]'::json"))
    else:
        agg = func.json_group_array(package)
    return select(agg).where(_INSTALLATIONS.c.status == "installed").scalar_subquery()


@functools.cache
def directive_for_run(dialect: str) -> Executable:
    """The directive ``:p_id`` (as an ORM row) and the active packages, in one query."""
    return select(DirectiveRow, active_packages_json(dialect)).where(
        DirectiveRow.id == bindparam("p_id")
    )


@functools.cache
def delivery_for_run(dialect: str) -> Executable:
    """The delivery ``:p_id``, its signal and the active packages, in one query."""
    return (
        select(DeliveryRow, SignalRow, active_packages_json(dialect))
        .join(SignalRow, SignalRow.id == DeliveryRow.signal_id)
        .where(DeliveryRow.id == bindparam("p_id"))
    )


@functools.cache
def directives_succeeded(rows: int) -> Executable:
    """PostgreSQL: finish ``rows`` running directives as succeeded in one fenced UPDATE.

    Binds ``:id_<n>``, ``:token_<n>`` and ``:result_<n>`` per row and ``:p_now``; RETURNING
    the id of each row that still carried its token (the others were fenced off).
    """
    d = _DIRECTIVES.c
    selects = [
        select(
            typed_param(f"id_{n}", d.id.type).label("id"),
            typed_param(f"token_{n}", d.fencing_token.type).label("token"),
            typed_param(f"result_{n}", d.result.type).label("result"),
        )
        for n in range(rows)
    ]
    done = (selects[0] if rows == 1 else union_all(*selects)).subquery("fp_done")
    now = bindparam("p_now", type_=d.updated_at.type)
    return (
        update(_DIRECTIVES)
        .where(d.id == done.c.id, d.status == "running", d.fencing_token == done.c.token)
        .values(
            status="succeeded",
            lease_owner=None,
            lease_expires_at=None,
            result=done.c.result,
            error=None,
            completed_at=now,
            updated_at=now,
        )
        .returning(d.id)
    )
