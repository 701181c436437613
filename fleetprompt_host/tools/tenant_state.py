"""What the tool catalog reads from a tenant: the actor's role and the installations.

Both come back from one statement (one round trip), read afresh for every catalog: a
role revoked or a package disabled a moment ago, by this process or another, is seen
by the next call. The statement is built once per process; executing it is a compiled
cache hit. On PostgreSQL it runs as fixed SQL text on the psycopg connection
(:mod:`.pg_records`), which skips SQLAlchemy's per-execution work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

#: The installation status whose packages are active (as in ``engine.installed``).
ACTIVE_STATUS = "installed"
#: Marks the role row; no package can be named "" (names are validated slugs).
_ROLE_ROW = ""


@dataclass
class TenantState:
    """The actor's role (None: not a member) and every installation's status and version."""

    role: str | None = None
    #: package -> (status, version)
    installations: dict[str, tuple[str, str]] = field(default_factory=dict)

    def active(self) -> dict[str, str]:
        """Return the installed version of each active package."""
        return {p: v for p, (s, v) in self.installations.items() if s == ACTIVE_STATUS}

    def inactive(self) -> dict[str, str]:
        """Return the status of each package that is present but not active."""
        return {p: s for p, (s, _) in self.installations.items() if s != ACTIVE_STATUS}


@cache
def _statement() -> Any:
    from sqlalchemy import String, bindparam, cast, literal, select, union_all

    from fleetprompt_host.storage.models import InstallationRow, MemberRow

    members = MemberRow.__table__
    installations = InstallationRow.__table__
    return union_all(
        select(
            literal(_ROLE_ROW, String).label("package"),
            members.c.role.label("status"),
            cast(None, String).label("version"),
        ).where(members.c.actor == bindparam("actor")),
        select(installations.c.package, installations.c.status, installations.c.version),
    )


def read_tenant_state(source: Session | Connection, actor: str) -> TenantState:
    """Return ``actor``'s role and the installations, read through ``source`` (a session,
    or a connection such as :meth:`~fleetprompt_host.storage.Database.tenant_autocommit`'s:
    it is one statement)."""
    from sqlalchemy.orm import Session

    conn = source.connection() if isinstance(source, Session) else source
    if conn.dialect.name == "postgresql":
        from .pg_records import tenant_state_rows

        rows: Any = tenant_state_rows(conn, actor)
    else:
        rows = conn.execute(_statement(), {"actor": actor})
    state = TenantState()
    for package, status, version in rows:
        if package == _ROLE_ROW:
            state.role = status
        else:
            state.installations[package] = (status, str(version))
    return state
