"""The SQLite authorizer that confines a tenant connection to its own file.

Tenant connections may read and write rows, nothing more: ATTACH (and so ``VACUUM INTO``),
DETACH, every kind of DDL and every PRAGMA that sets a value are refused. FleetPrompt's own
pragmas (``query_only`` for read-only sessions) run with the guard lifted for one call.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_DDL = {
    getattr(sqlite3, name)
    for name in dir(sqlite3)
    if name.startswith(("SQLITE_CREATE_", "SQLITE_DROP_")) or name == "SQLITE_ALTER_TABLE"
}
_DENIED = _DDL | {sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH}


@dataclass
class Guard:
    """Per-connection state of the authorizer."""

    lifted: bool = False

    def authorize(
        self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _src: str | None
    ) -> int:
        """The ``sqlite3`` authorizer callback."""
        if self.lifted:
            return sqlite3.SQLITE_OK
        if action in _DENIED:
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_PRAGMA and arg2 is not None:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    @contextmanager
    def lifted_for_host(self) -> Iterator[None]:
        """Let FleetPrompt's own statements through for the duration of the block."""
        self.lifted = True
        try:
            yield
        finally:
            self.lifted = False


def install(dbapi_connection: sqlite3.Connection) -> Guard:
    """Install a new guard on ``dbapi_connection`` and return it."""
    guard = Guard()
    dbapi_connection.set_authorizer(guard.authorize)
    return guard
