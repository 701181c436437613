"""Which tenant a worker serves next: the host work index and fair turns across tenants.

Finding due work never scans tenant schemas. The host table ``work_queue``
(:class:`~fleetprompt_host.storage.models.work.TenantWorkRow`) holds one row per tenant with
pending work and the time its earliest item is due:

- :func:`mark_due` is called in the transaction that creates or reschedules work. On
  PostgreSQL it calls ``fleetprompt_work.mark_due`` (a SECURITY DEFINER function that
  marks only the caller's own tenant) so the mark commits with the work, and notifies
  idle workers on commit. On SQLite it writes the host file while the tenant transaction
  still holds the tenant's write lock (before the work commits, never after), so a crash
  can leave at worst a harmless extra mark.
- :func:`pick` gives a worker its next turn: among the tenants due now, the one served
  least recently (``FOR UPDATE SKIP LOCKED`` keeps concurrent workers on different
  tenants). Each turn claims at most one batch, so with ``T`` tenants due, a tenant that
  becomes due waits at most ``T - 1`` turns whatever the size of the others' backlogs.
- :func:`settle` files the tenant's next due time, computed in the claim transaction. It
  only postpones or removes the row if no mark happened since the pick (the row's
  ``generation`` is unchanged); otherwise it can only bring the due time earlier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..storage import Database, utcnow
from ..storage.models.work import TenantWorkRow
from ..storage.sqlite_backend import SqliteBackend
from .claims import aware, next_due

_W = cast(Table, TenantWorkRow.__table__)
_MARK_SQL = text("SELECT fleetprompt_work.mark_due(:slug, :due)")

#: Called (in this process) with a tenant slug after a mark on SQLite, where there is no
#: NOTIFY: lets an in-process worker wake at once (see :mod:`.wakeup`).
local_wakers: list[Callable[[str], None]] = []


@dataclass(frozen=True)
class Turn:
    """A worker's turn at one tenant: the index row as it was when picked."""

    tenant: str
    generation: int
    due_at: datetime


# Built once: constructing a statement costs more than running it on a small table.
def _pick_statement(some: bool) -> Any:
    now = bindparam("now", type_=_W.c.due_at.type)
    candidate = select(_W.c.slug).where(_W.c.due_at <= now)
    if some:
        candidate = candidate.where(_W.c.slug.in_(bindparam("tenants", expanding=True)))
    candidate = (
        candidate.order_by(_W.c.last_served_at, _W.c.slug)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (
        update(_W)
        .where(_W.c.slug == candidate.scalar_subquery())
        .values(last_served_at=now)
        .returning(_W.c.slug, _W.c.generation, _W.c.due_at)
    )


_PICK_ALL, _PICK_SOME = _pick_statement(False), _pick_statement(True)
_UNMARKED = (_W.c.slug == bindparam("b_slug")) & (_W.c.generation == bindparam("b_generation"))
_DROP_IF_UNMARKED = delete(_W).where(_UNMARKED)
_POSTPONE_IF_UNMARKED = update(_W).where(_UNMARKED).values(due_at=bindparam("b_due"))
_BRING_FORWARD = (
    update(_W)
    .where(_W.c.slug == bindparam("b_slug"), _W.c.due_at > bindparam("b_due"))
    .values(due_at=bindparam("b_due"))
)
_EARLIEST_ALL = select(func.min(_W.c.due_at))
_EARLIEST_SOME = _EARLIEST_ALL.where(_W.c.slug.in_(bindparam("tenants", expanding=True)))


# -- marking ------------------------------------------------------------------------------


def mark_due(session: Session | Connection, tenant: str, due_at: datetime | None = None) -> None:
    """Record, in ``session``'s tenant transaction, that ``tenant`` has work due at ``due_at``.

    Call it wherever a directive or delivery is created or becomes due again (request,
    retry, rerun, fan-out, replay, release). Marks only ever bring a tenant's due time
    earlier, so calling it more often than needed is harmless.
    """
    due = due_at or utcnow()
    conn = session.connection() if isinstance(session, Session) else session
    if conn.dialect.name == "postgresql":
        conn.execute(_MARK_SQL, {"slug": tenant, "due": due})
        return
    backend = _sqlite_host_of(conn)
    with backend.host_transaction() as host:
        _upsert(host, tenant, due, bump=True)
    for wake in list(local_wakers):
        wake(tenant)


def mark_due_host(db: Database, tenant: str, due_at: datetime | None = None) -> None:
    """Mark ``tenant`` due from outside any tenant transaction (repairs, operations)."""
    with db.backend.host_transaction() as host:
        _upsert(host, tenant, due_at or utcnow(), bump=True)


def install() -> None:
    """Kept for callers: :func:`~.wakeups.work_created` now marks tenants by itself."""


def _upsert(conn: Connection, tenant: str, due: datetime, *, bump: bool) -> None:
    now = utcnow()
    is_pg = conn.dialect.name == "postgresql"
    stmt = (postgresql.insert if is_pg else sqlite.insert)(_W).values(
        slug=tenant, due_at=due, generation=1, last_served_at=now, updated_at=now
    )
    earliest = (func.least if is_pg else func.min)(_W.c.due_at, stmt.excluded.due_at)
    values: dict[str, Any] = {"due_at": earliest, "updated_at": now}
    if bump:
        values["generation"] = _W.c.generation + 1
    conn.execute(stmt.on_conflict_do_update(index_elements=[_W.c.slug], set_=values))


_hosts: dict[Path, SqliteBackend] = {}
_hosts_lock = threading.Lock()


def _sqlite_host_of(conn: Connection) -> SqliteBackend:
    """Return the host database of the tenant file ``conn`` is in (cached per directory).

    A tenant session cannot reach the host file, and package code must not be handed the
    :class:`Database`; the tenant file's directory identifies its host (see
    :class:`SqliteBackend`: ``<host dir>/tenants`` or ``<host dir>/<stem>-tenants``).
    """
    rows = conn.exec_driver_sql("PRAGMA database_list").all()
    tenant_file = Path(next(row[2] for row in rows if row[1] == "main")).resolve()
    directory = tenant_file.parent
    with _hosts_lock:
        cached = _hosts.get(directory)
        if cached is not None:
            return cached
        stem = "fleetprompt" if directory.name == "tenants" else directory.name[: -len("-tenants")]
        candidates = [
            path
            for path in sorted(directory.parent.iterdir())
            if path.is_file()
            and path.name.split(".")[0] == stem
            and not path.name.endswith(("-wal", "-shm", "-journal"))
        ]
        for path in candidates:
            backend = SqliteBackend(f"sqlite:///{path}")
            if backend.tenants_dir.resolve() == directory and _has_tenant(
                backend, tenant_file.stem
            ):
                _hosts[directory] = backend
                return backend
            backend.dispose()
    raise LookupError(f"no FleetPrompt host database owns the tenant file {tenant_file}")


def _has_tenant(backend: SqliteBackend, schema: str) -> bool:
    from ..storage.models.host import TenantRow

    try:
        with backend.host_transaction(write=False) as host:
            found = host.execute(
                select(TenantRow.slug).where(TenantRow.schema_name == schema)
            ).first()
    except Exception:
        return False
    return found is not None


# -- turns --------------------------------------------------------------------------------


def pick(db: Database, tenants: Collection[str] | None = None) -> Turn | None:
    """Take the next turn: the least recently served tenant with work due now, if any.

    ``tenants`` limits the choice (None: every tenant). The turn moves the tenant to the
    back of the line at once, so the next worker to pick gets another tenant.
    """
    stmt = _PICK_ALL if tenants is None else _PICK_SOME
    params = {"now": utcnow(), "tenants": sorted(tenants or ())}
    with db.backend.host_transaction() as host:
        row = host.execute(stmt, params).first()
    if row is None:
        return None
    return Turn(row.slug, row.generation, aware(row.due_at))


def current_turn(db: Database, tenant: str) -> Turn | None:
    """Return ``tenant``'s index row as a turn without taking it (None if absent).

    For a worker that claimed first (woken by a notification naming the tenant): read
    before the next due time is computed, it settles exactly like a picked turn.
    """
    with db.backend.host_transaction(write=False) as host:
        row = host.execute(select(_W.c.generation, _W.c.due_at).where(_W.c.slug == tenant)).first()
    return None if row is None else Turn(tenant, row.generation, aware(row.due_at))


def settle(db: Database, turn: Turn, next_due: datetime | None) -> None:
    """File ``next_due`` (computed after the turn's claim) as the tenant's due time.

    If the tenant was marked since the turn was picked, the mark may concern work the
    claim did not see: then the due time can only move earlier, never later or away.
    """
    params = {"b_slug": turn.tenant, "b_generation": turn.generation, "b_due": next_due}
    with db.backend.host_transaction() as host:
        if next_due is None:
            host.execute(_DROP_IF_UNMARKED, params)
            return
        if not host.execute(_POSTPONE_IF_UNMARKED, params).rowcount:
            # Marked since the pick: only ever earlier. Gone: a later settle saw no work
            # at all, and any work since would have marked the tenant (and kept the row).
            host.execute(_BRING_FORWARD, params)


def settle_now(db: Database, turn: Turn) -> datetime | None:
    """Compute the tenant's next due time now and :func:`settle` the turn with it."""
    with db.tenant_session(turn.tenant) as session:
        due = next_due(session)
    settle(db, turn, due)
    return due


def refresh(db: Database, tenant: str, *, create: bool = True) -> datetime | None:
    """Recompute ``tenant``'s next due time from its own tables and file it; return it.

    With ``create=False`` a tenant absent from the index stays absent (a worker after its
    batch: the row is gone only because a later look found no work at all). The tenant
    transaction is a write transaction on purpose: on SQLite it waits for a request in
    progress (which has already marked the host) instead of reading past it.
    """
    with db.backend.host_transaction(write=False) as host:
        generation = host.execute(
            select(_W.c.generation).where(_W.c.slug == tenant)
        ).scalar_one_or_none()
    with db.tenant_session(tenant) as session:
        due = next_due(session)
    if generation is None:
        if due is not None and create:
            with db.backend.host_transaction() as host:
                _upsert(host, tenant, due, bump=False)
        return due
    settle(db, Turn(tenant, generation, due or utcnow()), due)
    return due


def reconcile(db: Database, tenants: Collection[str] | None = None) -> int:
    """Rebuild the index from the tenants' own tables; return how many tenants have work.

    Scans every tenant (or those named): an operations tool for databases whose work was
    written by hand or before the index existed, never part of a worker's normal loop.
    """
    slugs = sorted(tenants) if tenants is not None else [t.slug for t in db.list_tenants()]
    return sum(1 for slug in slugs if refresh(db, slug) is not None)


def forget(db: Database, tenant: str) -> None:
    """Drop ``tenant`` from the index (it was deleted)."""
    with db.backend.host_transaction() as host:
        host.execute(delete(_W).where(_W.c.slug == tenant))


def next_wakeup(db: Database, tenants: Collection[str] | None = None) -> datetime | None:
    """Return the earliest due time among ``tenants`` (all when None), or None."""
    stmt = _EARLIEST_ALL if tenants is None else _EARLIEST_SOME
    with db.backend.host_transaction(write=False) as host:
        value = host.execute(stmt, {"tenants": sorted(tenants or ())}).scalar_one_or_none()
    return None if value is None else aware(value)
