"""SQLite: number and insert a signal through the session's own sqlite3 connection.

On SQLite an emit is two statements (reserve the next ``seq``, insert the row) that
each spend more time in SQLAlchemy's execution machinery than in SQLite. This module
runs the same two statements on the DBAPI connection underneath the session's
connection, inside the same transaction, with values converted by the columns' own
dialect bind processors, so the rows are exactly those a Core INSERT would write.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from fleetprompt_host.storage.models import CounterRow, SignalRow

_SIGNALS = SignalRow.__table__
#: Signal columns in insert order (every column: the caller supplies seq and recorded_at).
COLUMNS: tuple[str, ...] = tuple(c.name for c in _SIGNALS.c)

_ALLOCATE = (
    f"INSERT INTO {CounterRow.__tablename__} (name, value) VALUES (?, ?) "
    f"ON CONFLICT (name) DO UPDATE SET value = {CounterRow.__tablename__}.value + excluded.value "
    "RETURNING value"
)
_INSERT = (
    f"INSERT INTO {SignalRow.__tablename__} ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in COLUMNS)}) ON CONFLICT DO NOTHING RETURNING id"
)


@functools.cache
def _processors(dialect: Dialect) -> tuple[Callable[[Any], Any] | None, ...]:
    """The bind processor of each signal column on ``dialect`` (None: passed as is)."""
    return tuple(c.type.dialect_impl(dialect).bind_processor(dialect) for c in _SIGNALS.c)


def raw_connection(session: Session) -> Any:
    """Return the sqlite3 connection under the session's connection (transaction begun)."""
    return session.connection().connection.driver_connection


def allocate(raw: Any, name: str, count: int = 1) -> int:
    """Reserve ``count`` numbers of counter ``name`` on ``raw``; return the last one."""
    return int(_run(raw, _ALLOCATE, (name, count))[0])


def insert_signal(raw: Any, dialect: Dialect, values: dict[str, Any]) -> str | None:
    """Insert a signal row (all columns in ``values``); return its id, None on a duplicate."""
    params = [
        values[name] if proc is None or values[name] is None else proc(values[name])
        for name, proc in zip(COLUMNS, _processors(dialect), strict=True)
    ]
    row = _run(raw, _INSERT, params)
    return None if row is None else str(row[0])


def _run(raw: Any, statement: str, params: Any) -> Any:
    # Errors surface as SQLAlchemy's, as they would from session.execute.
    try:
        return raw.execute(statement, params).fetchone()
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(statement, params, error, sqlite3.Error) from error
