"""PostgreSQL: the tool path's two statements, on the psycopg connection.

A ``tools call`` reads the tenant state (the actor's role and the installations) and
writes its finished execution with its steps: one statement each, and on PostgreSQL
SQLAlchemy's execution machinery (compiled-cache lookup, parameter processing, schema
translation, result wrapping) costs about as long as the server does. These statements
are the ones :mod:`.tenant_state` and :mod:`.steps` build for SQLAlchemy, written out
once as SQL with explicit casts to the columns' types, and run on the DBAPI connection
under the caller's connection, through a cursor it keeps (:func:`cursor`): in its
transaction, or committing on their own in
:meth:`~fleetprompt_host.storage.Database.tenant_autocommit`. Table names are
unqualified: a tenant connection's ``search_path`` is the tenant's schema (as for
:mod:`fleetprompt_host.engine.pg_fast`), and its role can reach nothing else.

The rows written are those the Core INSERTs write: the same columns and values, JSON
``null`` where a document is None (the JSON columns store ``None`` that way).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

import psycopg
from sqlalchemy import Table, exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from fleetprompt_host.storage.models import (
    ExecutionRow,
    ExecutionStepRow,
    InstallationRow,
    MemberRow,
)

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _types(table: Table, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Column name -> PostgreSQL type name (no length: a value too long is refused by
    the assignment, as from SQLAlchemy, where a cast to VARCHAR(n) would truncate it)."""
    return {
        c.name: getattr(c.type, "impl", c.type)
        .dialect_impl(_DIALECT)
        .compile(dialect=_DIALECT)
        .split("(")[0]
        for c in table.c
        if c.name not in skip
    }


_EXECUTION_TYPES = _types(ExecutionRow.__table__)  # type: ignore[arg-type]
_STEP_TYPES = _types(ExecutionStepRow.__table__, skip=("id",))  # type: ignore[arg-type]
#: Positions of the JSON documents in each row's parameters (sent as JSON text).
_EXECUTION_JSON = tuple(i for i, t in enumerate(_EXECUTION_TYPES.values()) if t == "JSONB")
_STEP_JSON = tuple(i for i, t in enumerate(_STEP_TYPES.values()) if t == "JSONB")

# The role row is marked by an empty package name (see .tenant_state).
TENANT_STATE = (
    f"SELECT '' AS package, role AS status, CAST(NULL AS VARCHAR) AS version "
    f"FROM {MemberRow.__tablename__} WHERE actor = %s "
    f"UNION ALL SELECT package, status, version FROM {InstallationRow.__tablename__}"
)


#: Where a pooled connection keeps its cursor for these statements.
_CURSOR = "fleetprompt_tools_cursor"


def cursor(conn: Connection) -> psycopg.Cursor[Any]:
    """Return the psycopg cursor these statements use on ``conn``'s DBAPI connection.

    Made once per DBAPI connection and kept in its pool entry's ``info`` (which lives as
    long as that connection, across checkouts): creating a cursor per statement costs
    about a tenth of a small statement's round trip. A pooled connection serves one
    thread at a time, and every statement here reads its whole result before the
    next one runs.
    """
    pooled = conn.connection
    raw = pooled.driver_connection
    found = pooled.info.get(_CURSOR)
    if found is not None and found.connection is raw and not found.closed:
        return found  # type: ignore[no-any-return]
    assert isinstance(raw, psycopg.Connection)
    made = pooled.info[_CURSOR] = raw.cursor()
    return made


def execute(conn: Connection, statement: str, params: list[Any]) -> psycopg.Cursor[Any]:
    """Execute ``statement`` on ``conn``'s cursor; a database error surfaces as
    SQLAlchemy's (as it would from ``conn.execute``)."""
    try:
        return cursor(conn).execute(statement, params)
    except psycopg.Error as error:
        raise exc.DBAPIError.instance(statement, params, error, psycopg.Error) from error


def tenant_state_rows(conn: Connection, actor: str) -> list[tuple[str, str, str | None]]:
    """Return (package, status, version) rows: the actor's role first as package ``""``."""
    return execute(conn, TENANT_STATE, [actor]).fetchall()


def _values(types: dict[str, str]) -> str:
    return "(" + ", ".join(f"CAST(%s AS {t})" for t in types.values()) + ")"


@cache
def execution_with_steps(steps: int) -> str:
    """The INSERT of one execution and its ``steps`` steps (text, built once per count).

    The execution rides along as a data-modifying CTE, which runs even when no step
    follows it, so any count is one statement and one round trip.
    """
    execution = (
        f"INSERT INTO {ExecutionRow.__tablename__} ({', '.join(_EXECUTION_TYPES)}) "
        f"VALUES {_values(_EXECUTION_TYPES)}"
    )
    if steps == 0:
        return execution
    rows = ", ".join([_values(_STEP_TYPES)] * steps)
    return (
        f"WITH fp_execution AS ({execution}) "
        f"INSERT INTO {ExecutionStepRow.__tablename__} ({', '.join(_STEP_TYPES)}) VALUES {rows}"
    )


def _params(row: dict[str, Any], names: Sequence[str], documents: tuple[int, ...]) -> list[Any]:
    out = [row[name] for name in names]
    for position in documents:
        out[position] = json.dumps(out[position])
    return out


def insert_execution(
    conn: Connection, execution: dict[str, Any], steps: Sequence[dict[str, Any]]
) -> None:
    """Insert the execution row and its step rows (as :meth:`ExecutionLog.rows
    <fleetprompt_host.engine.executions.ExecutionLog.rows>` gives them) in one statement."""
    params = _params(execution, tuple(_EXECUTION_TYPES), _EXECUTION_JSON)
    names = tuple(_STEP_TYPES)
    for step in steps:
        params.extend(_params(step, names, _STEP_JSON))
    execute(conn, execution_with_steps(len(steps)), params)
