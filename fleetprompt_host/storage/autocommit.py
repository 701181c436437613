"""Tenant connections for work that is one statement (:meth:`Database.tenant_autocommit
<fleetprompt_host.storage.Database.tenant_autocommit>`).

A unit of work that is one statement needs no transaction around it: PostgreSQL runs a
lone statement atomically (a failing one leaves nothing) and commits it when it ends.
Wrapping it in ``BEGIN`` ... ``COMMIT`` costs two more round trips than the statement
itself (psycopg sends ``BEGIN`` on its own). On PostgreSQL the block checks a connection
out of the tenant's pool exactly as a tenant session does (the same slug and registry
checks, logged in as the tenant's role, its search path, the same schema translation) and
switches psycopg's ``autocommit`` on: a client-side attribute, no round trip. Each
statement then commits as it runs, so an error later in the block undoes nothing. It is
switched off again before the connection goes back to the pool, so the next tenant
session on it is a transaction; a connection that broke in the block is discarded.

On SQLite the block is one tenant transaction (``BEGIN``, then the same check that the
tenant's file is still the cached one), read-only when the caller only reads. PostgreSQL
does not refuse writes in a block opened to read: it is for the host's own statements
(the tool catalog's read, an execution written in one statement), never for package
code, whose reads go through ``tenant_session(slug, readonly=True)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Connection

from .backend import TenantHandle


def autocommit_connection(handle: TenantHandle) -> Connection:
    """Check a writable connection out of ``handle``'s pool with autocommit on."""
    conn = handle.connect(False)
    try:
        _raw(conn).autocommit = True
    except BaseException:
        conn.close()
        raise
    return conn


def release_autocommit(conn: Connection) -> None:
    """Switch autocommit off again and give ``conn`` back to its pool.

    A connection that cannot be switched back (it broke during the block) is discarded
    rather than pooled: no later session may get a connection that commits on its own.
    """
    try:
        if not conn.invalidated:
            try:
                _raw(conn).autocommit = False
            except Exception:
                conn.invalidate()
    finally:
        conn.close()


@contextmanager
def statements_block(conn: Connection, release: Callable[[Connection], None]) -> Iterator[None]:
    """Commit ``conn`` when the block ends, roll it back when it raises, then release it.

    In autocommit nothing is pending at either end: both only close SQLAlchemy's
    bookkeeping, with no round trip (psycopg skips them outside a transaction).
    """
    try:
        yield
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        release(conn)


def _raw(conn: Connection) -> Any:
    return conn.connection.dbapi_connection
