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

from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from fleetprompt_host.engine.pg_records import executions_insert
from fleetprompt_host.storage.models import InstallationRow, MemberRow

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


def insert_execution(
    conn: Connection, execution: dict[str, Any], steps: Sequence[dict[str, Any]]
) -> None:
    """Insert the execution row and its step rows (as :meth:`ExecutionLog.rows
    <fleetprompt_host.engine.executions.ExecutionLog.rows>` gives them) in one statement,
    the one a group of directives writes its executions with."""
    execute(conn, *executions_insert([execution], steps))
