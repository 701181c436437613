"""PostgreSQL: number and insert signals with psycopg, on the session's own connection.

An emit's INSERT spends as long in SQLAlchemy's execution machinery (parameter
processing, result wrapping) as on the server, and an executemany of a batch sends one
statement per row. These statements do what :mod:`.statements` builds for SQLAlchemy,
written out once as SQL with explicit casts to the columns' types, and run on the DBAPI
connection under the session's connection, in its transaction. Table names are
unqualified: a tenant connection's ``search_path`` is the tenant's schema (as for any
raw SQL of a tenant session), and its role can reach nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Table, exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from fleetprompt_host.storage.models import CounterRow, SignalRow

from .jsonsafe import compact_json

_SIGNALS = SignalRow.__table__
#: Signal columns in insert order.
COLUMNS: tuple[str, ...] = tuple(c.name for c in _SIGNALS.c)
_DATA = COLUMNS.index("data")
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def pg_types(table: Table, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Column name -> PostgreSQL type name, in column order, for casts in SQL text.

    Without a length: a value too long for its column is then refused by the assignment,
    as from SQLAlchemy, where ``CAST(... AS VARCHAR(n))`` would truncate it.
    """
    return {
        c.name: getattr(c.type, "impl", c.type)
        .dialect_impl(_DIALECT)
        .compile(dialect=_DIALECT)
        .split("(")[0]
        for c in table.c
        if c.name not in skip
    }


_CASTS = pg_types(_SIGNALS)  # type: ignore[arg-type]
_TABLE = SignalRow.__tablename__
_COUNTERS = CounterRow.__tablename__
_NUMBERED = tuple(name for name in COLUMNS if name not in ("seq", "recorded_at"))
_INSERT_NUMBERED = (
    f"WITH fp_next_seq AS (INSERT INTO {_COUNTERS} (name, value) VALUES (%s, 1) "
    f"ON CONFLICT (name) DO UPDATE SET value = {_COUNTERS}.value + 1 RETURNING value) "
    f"INSERT INTO {_TABLE} ({', '.join(_NUMBERED)}, seq, recorded_at) "
    f"SELECT {', '.join(f'CAST(%s AS {_CASTS[n]})' for n in _NUMBERED)}, value, "
    # Read after the counter lock is held, so recorded_at follows seq order.
    "clock_timestamp() FROM fp_next_seq ON CONFLICT DO NOTHING RETURNING id, seq, recorded_at"
)


def raw_connection(session: Session) -> psycopg.Connection[Any]:
    """Return the psycopg connection under the session's connection (transaction begun)."""
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def insert_numbered(
    raw: psycopg.Connection[Any], counter: str, values: dict[str, Any], data_json: str | None
) -> tuple[str, int, datetime] | None:
    """Take the next number of ``counter`` and insert the signal in one statement.

    Returns (id, seq, recorded_at), or None when the row duplicates a stored one (the
    counter moved all the same: the caller hands the number back).
    """
    params = [counter, *_row(values, data_json, _NUMBERED)]
    row = run(raw, _INSERT_NUMBERED, params).fetchone()
    if row is None:
        return None
    return str(row[0]), int(row[1]), row[2].astimezone(UTC)


def insert_signals(
    raw: psycopg.Connection[Any],
    rows: Sequence[dict[str, Any]],
    texts: Sequence[str | None],
) -> None:
    """Insert complete signal rows (``texts``: each one's data as JSON text, or None).

    One statement whatever the number of rows: each column travels as one array and the
    server zips them back into rows (``unnest``), so the statement stays short, is parsed
    once by psycopg and prepared once by the server. A duplicate raises.
    """
    columns: list[list[Any]] = [[] for _ in COLUMNS]
    for values, text in zip(rows, texts, strict=True):
        for position, value in enumerate(_row(values, text, COLUMNS)):
            columns[position].append(value)
    run(raw, _INSERT_ROWS, columns)


_INSERT_ROWS = (
    f"INSERT INTO {_TABLE} ({', '.join(COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(%b AS {_CASTS[n]}[])" for n in COLUMNS)
    + ")"
)


def _row(values: dict[str, Any], text: str | None, names: tuple[str, ...]) -> list[Any]:
    out = [values[name] for name in names]
    if "data" in names:
        position = names.index("data")
        out[position] = text if text is not None else compact_json(values["data"])
    return out


def run(raw: psycopg.Connection[Any], statement: str, params: list[Any]) -> Any:
    """Execute ``statement`` on ``raw``; a database error surfaces as SQLAlchemy's."""
    # Errors surface as SQLAlchemy's, as they would from session.execute.
    try:
        return raw.execute(statement, params)
    except psycopg.Error as error:
        raise exc.DBAPIError.instance(statement, params, error, psycopg.Error) from error
