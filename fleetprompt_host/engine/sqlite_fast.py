"""SQLite: number and insert signals through the session's own sqlite3 connection.

On SQLite an emit is two statements (reserve the next ``seq``, insert the row) that
each spend more time in SQLAlchemy's execution machinery than in SQLite. This module
runs the same statements on the DBAPI connection underneath the session's connection
(or of :meth:`~fleetprompt_host.storage.Database.tenant_dbapi`), inside the same
transaction, with values converted by the columns' own dialect bind processors, so the
rows are those a Core INSERT would write. The one difference: ``data`` may be handed in
as the compact JSON text validation produced (equal JSON, serialized once).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from fleetprompt_host.storage.base import UTCDateTime
from fleetprompt_host.storage.models import CounterRow, SignalRow
from fleetprompt_host.storage.sqlite_dialect import FleetPromptSQLiteDialect

_SIGNALS = SignalRow.__table__
#: Signal columns in insert order (every column: the caller supplies seq and recorded_at).
COLUMNS: tuple[str, ...] = tuple(c.name for c in _SIGNALS.c)
_DATA = COLUMNS.index("data")
_TIMES = frozenset(n for n, c in enumerate(_SIGNALS.c) if isinstance(c.type, UTCDateTime))
#: The dialect whose bind processors convert values on a bare tenant connection.
DIALECT: Dialect = FleetPromptSQLiteDialect()

_ALLOCATE = (
    f"INSERT INTO {CounterRow.__tablename__} (name, value) VALUES (?, ?) "
    f"ON CONFLICT (name) DO UPDATE SET value = {CounterRow.__tablename__}.value + excluded.value "
    "RETURNING value"
)
_BUMP = f"UPDATE {CounterRow.__tablename__} SET value = value + ? WHERE name = ? RETURNING value"
_BY_KEY = f"SELECT 1 FROM {SignalRow.__tablename__} WHERE dedupe_key = ?"
_BY_EVENT = f"SELECT 1 FROM {SignalRow.__tablename__} WHERE source = ? AND source_event_id = ?"


@functools.cache
def _converters(dialect: Dialect, data_given: bool) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """(position, bind processor) of each signal column that ``dialect`` converts.

    With ``data_given`` the ``data`` column is left out (its JSON text is supplied).
    """
    found = []
    for position, column in enumerate(_SIGNALS.c):
        proc = column.type.dialect_impl(dialect).bind_processor(dialect)
        if proc is not None and not (data_given and position == _DATA):
            found.append((position, proc))
    return tuple(found)


def raw_connection(session: Session) -> Any:
    """Return the sqlite3 connection under the session's connection (transaction begun)."""
    return session.connection().connection.driver_connection


def allocate(raw: Any, name: str, count: int = 1) -> int:
    """Reserve ``count`` numbers of counter ``name`` on ``raw``; return the last one."""
    # The counter exists but for the first allocation: an UPDATE is cheaper than the upsert.
    row = _run(raw, _BUMP, (count, name))
    if row is None:
        row = _run(raw, _ALLOCATE, (name, count))
    return int(row[0])


def stored(raw: Any, dedupe_key: str | None, source: str, source_event_id: str | None) -> bool:
    """True when a signal with this dedupe key or (source, source event id) is stored."""
    if dedupe_key is not None and _run(raw, _BY_KEY, (dedupe_key,)) is not None:
        return True
    return source_event_id is not None and (
        _run(raw, _BY_EVENT, (source, source_event_id)) is not None
    )


def params(
    dialect: Dialect,
    values: dict[str, Any],
    data_json: str | None = None,
    times: dict[datetime, str] | None = None,
) -> list[Any]:
    """Return the insert parameters of a signal row; ``data_json``: ``data`` as JSON text.

    ``times`` remembers converted UTC times across the rows of a batch (which share one).
    """
    out = [values[name] for name in COLUMNS]
    for position, convert in _converters(dialect, data_json is not None):
        value = out[position]
        if value is None:
            continue
        if position in _TIMES and type(value) is datetime and value.tzinfo is UTC:
            # What UTCDateTime and SQLite's DATETIME make of a UTC time, without the detour.
            text = times.get(value) if times is not None else None
            if text is None:
                text = value.replace(tzinfo=None).isoformat(" ", "microseconds")
                if times is not None:
                    times[value] = text
            out[position] = text
        else:
            out[position] = convert(value)
    if data_json is not None:
        out[_DATA] = data_json
    return out


def insert_signal(
    raw: Any, dialect: Dialect, values: dict[str, Any], data_json: str | None = None
) -> str | None:
    """Insert a signal row (all columns in ``values``); return its id, None on a duplicate.

    ``data_json``, when given, is stored as ``data`` instead of serializing it again.
    """
    row = params(dialect, values, data_json)
    given = tuple(n for n, value in enumerate(row) if value is not None)
    statement = _insert(given, returning=True)
    return _first(_run(raw, statement, [row[n] for n in given]))


def insert_signals(raw: Any, rows: Sequence[Sequence[Any]]) -> None:
    """Insert signal rows given as :func:`params` lists (a duplicate raises)."""
    columns = list(zip(*rows, strict=True))
    given = tuple(n for n, column in enumerate(columns) if column.count(None) != len(column))
    statement = _insert(given, returning=False)
    if len(given) < len(COLUMNS):
        rows = list(zip(*(columns[n] for n in given), strict=True))
    try:
        raw.executemany(statement, rows)
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(statement, rows, error, sqlite3.Error) from error


@functools.lru_cache(maxsize=64)
def _insert(given: tuple[int, ...], *, returning: bool) -> str:
    """INSERT naming only the columns at positions ``given``: the others are NULL anyway,
    and every value bound costs (about 7% of a 100-row batch for five NULL columns)."""
    names = ", ".join(COLUMNS[n] for n in given)
    statement = (
        f"INSERT INTO {SignalRow.__tablename__} ({names}) VALUES ({', '.join('?' * len(given))})"
    )
    return f"{statement} ON CONFLICT DO NOTHING RETURNING id" if returning else statement


def _first(row: Any) -> str | None:
    return None if row is None else str(row[0])


def _run(raw: Any, statement: str, params: Any) -> Any:
    # Errors surface as SQLAlchemy's, as they would from session.execute.
    try:
        return raw.execute(statement, params).fetchone()
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(statement, params, error, sqlite3.Error) from error
