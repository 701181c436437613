"""Statements on the engine's hot paths, built once per dialect and executed with params.

Building an INSERT with ``.values(**row)`` on every call costs more than running it;
these statements are built once and take their values as bind parameters, so emitting a
signal spends its time in the database, not in statement construction.
"""

from __future__ import annotations

import functools

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from fleetprompt_host.storage.models import CounterRow, DeliveryRow, InstallationRow, SignalRow

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
