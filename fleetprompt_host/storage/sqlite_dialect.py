"""The SQLite dialect of FleetPrompt's engines: pysqlite, with FleetPrompt issuing BEGIN.

pysqlite's own transaction handling is switched off (``isolation_level = None``, so it
never emits an implicit BEGIN) and the dialect's ``do_begin`` emits ``BEGIN IMMEDIATE``
for writes or ``BEGIN DEFERRED`` for reads on every transaction SQLAlchemy begins,
explicit or automatic. SQLAlchemy's documentation does this in a ``begin`` event; doing
it in the dialect keeps FleetPrompt's engines free of connection events, which
SQLAlchemy otherwise dispatches around every transaction and statement (about 16 us of
a ~90 us one-insert session, measured).

Whoever begins a transaction sets its mode on the DBAPI connection first
(:func:`set_mode`). Guarded connections (tenants, see :mod:`.sqlite_guard`) also switch
``PRAGMA query_only`` to match, only when it must change: the guard refuses every pragma
write from tenant SQL, so the value remembered on the connection is its real one.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from .sqlite_guard import Guard

#: The driver name of this dialect in engine URLs: ``sqlite+fleetprompt:///...``.
DRIVER = "fleetprompt"

_BEGIN = {False: "BEGIN IMMEDIATE", True: "BEGIN DEFERRED"}
_SET_QUERY_ONLY = {False: "PRAGMA query_only = 0", True: "PRAGMA query_only = 1"}


class FleetPromptConnection(sqlite3.Connection):
    """A ``sqlite3`` connection carrying FleetPrompt's per-connection transaction state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The mode of the next transaction (read-only: deferred, ``query_only`` on).
        self.fp_readonly = False
        #: The tenant guard, on tenant connections only.
        self.fp_guard: Guard | None = None
        #: ``query_only`` as last set here (None: unknown after a failed change).
        self.fp_query_only: bool | None = False


def set_mode(connection: Any, *, readonly: bool) -> None:
    """Make the next transaction begun on ``connection`` read-only or not.

    ``connection`` is the pooled connection (or the DBAPI connection itself).
    """
    _raw(connection).fp_readonly = readonly


class FleetPromptSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, with the BEGIN described in the module doc."""

    supports_statement_cache = True

    def do_begin(self, dbapi_connection: Any) -> None:
        """Emit BEGIN (switching ``query_only`` first on guarded connections)."""
        raw = _raw(dbapi_connection)
        readonly = raw.fp_readonly
        guard = raw.fp_guard
        if guard is not None and raw.fp_query_only is not readonly:
            # Before BEGIN, as BEGIN IMMEDIATE is itself a write.
            raw.fp_query_only = None
            with guard.lifted_for_host():
                raw.execute(_SET_QUERY_ONLY[readonly])
            raw.fp_query_only = readonly
        raw.execute(_BEGIN[readonly])


def _raw(connection: Any) -> FleetPromptConnection:
    raw = getattr(connection, "dbapi_connection", connection)
    assert isinstance(raw, FleetPromptConnection), "not a FleetPrompt SQLite connection"
    return raw


registry.register(f"sqlite.{DRIVER}", __name__, "FleetPromptSQLiteDialect")
