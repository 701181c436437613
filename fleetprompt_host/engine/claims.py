"""Claims in bulk: how a worker takes a batch of one tenant's due work, as leases.

:mod:`.leases` claims one known row (embedded, inline runs); a worker does not know which
rows are due, so it claims a batch in one short transaction in the tenant's schema. On
PostgreSQL the due rows are locked with ``FOR UPDATE SKIP LOCKED``: concurrent workers
take disjoint rows without waiting for each other. On SQLite the tenant transaction is
``BEGIN IMMEDIATE``, which serialises claimers on one machine. Each claimed row gets the
same changes as a :mod:`.leases` claim (directives ``running`` with ``started_at``;
``attempts + 1``; the lease; ``fencing_token + 1``), and the :class:`~.leases.Claim` handed
back carries the new token: the runner commits only if the row still carries it.

A claimed delivery stays ``pending``; its ``next_attempt_at`` moves to the lease's expiry,
so a delivery whose worker died falls due again through the same index as any other.

The same transaction computes :func:`next_due`, the tenant's earliest due time after the
claim, which the scheduler files in the host work index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import (
    Integer,
    Table,
    bindparam,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from ..storage import Database, utcnow
from ..storage.models.deliveries import DeliveryRow
from ..storage.models.directives import DirectiveRow
from .leases import Claim

Kind = Literal["directive", "delivery"]

_D = cast(Table, DirectiveRow.__table__)
_V = cast(Table, DeliveryRow.__table__)


@dataclass(frozen=True)
class ClaimedWork:
    """One directive or delivery claimed by a worker."""

    kind: Kind
    tenant: str
    id: Any
    claim: Claim
    attempts: int
    lease_expires_at: datetime
    #: The directive type or the delivery's handler (for logs).
    label: str = ""


@dataclass(frozen=True)
class ClaimBatch:
    """What one claim transaction took, and when the tenant's next item falls due."""

    tenant: str
    items: tuple[ClaimedWork, ...]
    #: Earliest due time of the tenant's pending work after the claim (None: no work).
    next_due: datetime | None
    #: False when the claim skipped computing ``next_due`` (see :func:`claim_batch`).
    next_due_known: bool = True


def claim_batch(
    db: Database,
    tenant: str,
    owner: str,
    *,
    limit: int,
    lease: timedelta,
    kinds: Sequence[Kind] = ("directive", "delivery"),
    next_due_if_claimed: bool = True,
) -> ClaimBatch:
    """Claim at most ``limit`` due items of ``tenant`` for ``owner``, leased for ``lease``.

    Directives and deliveries share the limit (about half each, either taking what the
    other leaves unused), oldest due first; work whose lease expired comes first of all.
    With ``next_due_if_claimed=False`` the tenant's next due time is computed only when
    nothing was claimed (``next_due_known`` tells), keeping the claim short.
    """
    if limit < 1:
        raise ValueError("a claim needs a limit of at least 1")
    with db.tenant_session(tenant) as session:
        at = utcnow()
        expires = at + lease
        items: list[ClaimedWork] = []
        share = limit if "delivery" not in kinds else max(1, (limit + 1) // 2)
        if "directive" in kinds:
            items += _claim_directives(session, tenant, owner, share, at, expires)
        more_directives = "directive" in kinds and len(items) == share
        if "delivery" in kinds and len(items) < limit:
            items += _claim_deliveries(session, tenant, owner, limit - len(items), at, expires)
        if more_directives and len(items) < limit:
            # Deliveries left part of their share unused: directives may take it.
            items += _claim_directives(session, tenant, owner, limit - len(items), at, expires)
        if items and not next_due_if_claimed:
            return ClaimBatch(tenant, tuple(items), None, next_due_known=False)
        return ClaimBatch(tenant, tuple(items), next_due(session, at))


def _build_claim_directives() -> Any:
    # One statement, two index range scans on (status, run_after) that stop at the limit
    # (an OR query would sort every due row): expired leases first, then requested work.
    # Built once: constructing a statement costs more than running it on a small batch.
    at, limit = bindparam("at", type_=_D.c.run_after.type), bindparam("limit", type_=Integer)
    expired = (
        select(_D.c.id, _D.c.run_after)
        .where(_D.c.status == "running", _D.c.lease_expires_at <= at)
        .order_by(_D.c.lease_expires_at, _D.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("expired")
    )
    fresh = (
        select(_D.c.id, _D.c.run_after)
        .where(_D.c.status == "requested", _D.c.run_after <= at)
        .order_by(_D.c.run_after, _D.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("fresh")
    )
    both = union_all(
        select(expired.c.id, expired.c.run_after, literal(0).label("rank")),
        select(fresh.c.id, fresh.c.run_after, literal(1).label("rank")),
    ).subquery()
    chosen = select(both.c.id).order_by(both.c.rank, both.c.run_after, both.c.id).limit(limit)
    return (
        update(_D)
        .where(_D.c.id.in_(chosen.scalar_subquery()))
        .values(
            status="running",
            attempts=_D.c.attempts + 1,
            started_at=at,
            lease_owner=bindparam("owner"),
            lease_expires_at=bindparam("expires"),
            fencing_token=_D.c.fencing_token + 1,
            updated_at=at,
        )
        .returning(_D.c.id, _D.c.fencing_token, _D.c.attempts, _D.c.type, _D.c.run_after)
    )


def _build_claim_deliveries() -> Any:
    at = bindparam("at", type_=_V.c.next_attempt_at.type)
    expires = bindparam("expires", type_=_V.c.next_attempt_at.type)
    due = (
        select(_V.c.id)
        .where(
            _V.c.status == "pending",
            _V.c.next_attempt_at <= at,
            # A delivery claimed inline (.leases) keeps its next_attempt_at: honour its lease.
            or_(_V.c.lease_expires_at.is_(None), _V.c.lease_expires_at <= at),
        )
        .order_by(_V.c.next_attempt_at, _V.c.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    return (
        update(_V)
        .where(_V.c.id.in_(due.scalar_subquery()))
        .values(
            attempts=_V.c.attempts + 1,
            next_attempt_at=expires,
            lease_owner=bindparam("owner"),
            lease_expires_at=expires,
            fencing_token=_V.c.fencing_token + 1,
            updated_at=at,
        )
        .returning(_V.c.id, _V.c.fencing_token, _V.c.attempts, _V.c.handler)
    )


_CLAIM_DIRECTIVES = _build_claim_directives()
_CLAIM_DELIVERIES = _build_claim_deliveries()
#: The tenant's earliest due times: each part an index lookup or a scan of leased rows.
_NEXT_DUE = select(
    select(func.min(_D.c.run_after)).where(_D.c.status == "requested").scalar_subquery(),
    select(func.min(_D.c.lease_expires_at)).where(_D.c.status == "running").scalar_subquery(),
    # The first pending delivery not held past its next_attempt_at (our claims move
    # next_attempt_at to the lease's expiry, so they count here too).
    select(_V.c.next_attempt_at)
    .where(
        _V.c.status == "pending",
        or_(_V.c.lease_expires_at.is_(None), _V.c.lease_expires_at <= _V.c.next_attempt_at),
    )
    .order_by(_V.c.next_attempt_at)
    .limit(1)
    .scalar_subquery(),
)
#: Deliveries held by an inline claim (.leases): due at their lease's expiry. They sit
#: among the few rows whose next_attempt_at passed while nothing else is due.
_HELD_INLINE = select(func.min(_V.c.lease_expires_at)).where(
    _V.c.status == "pending",
    _V.c.next_attempt_at <= bindparam("at", type_=_V.c.next_attempt_at.type),
    _V.c.lease_expires_at > _V.c.next_attempt_at,
)


def _claim_directives(
    session: Session, tenant: str, owner: str, limit: int, at: datetime, expires: datetime
) -> list[ClaimedWork]:
    params = {"at": at, "limit": limit, "owner": owner, "expires": expires}
    # RETURNING comes in no particular order: run the oldest first.
    rows = sorted(
        session.execute(_CLAIM_DIRECTIVES, params), key=lambda row: (row.run_after, row.id)
    )
    return [
        ClaimedWork(
            "directive",
            tenant,
            row.id,
            Claim(owner, int(row.fencing_token)),
            int(row.attempts),
            expires,
            row.type,
        )
        for row in rows
    ]


def _claim_deliveries(
    session: Session, tenant: str, owner: str, limit: int, at: datetime, expires: datetime
) -> list[ClaimedWork]:
    params = {"at": at, "limit": limit, "owner": owner, "expires": expires}
    rows = sorted(session.execute(_CLAIM_DELIVERIES, params), key=lambda row: row.id)
    return [
        ClaimedWork(
            "delivery",
            tenant,
            row.id,
            Claim(owner, int(row.fencing_token)),
            int(row.attempts),
            expires,
            row.handler,
        )
        for row in rows
    ]


def next_due(session: Session, now: datetime | None = None) -> datetime | None:
    """Return when the tenant's next item falls due (None when it has no pending work).

    Leased work counts at its lease's expiry: if its worker dies, that is when it is due.
    Every part is an index lookup or a scan of leased rows only, never of a whole backlog.
    """
    now = now or utcnow()
    found = [aware(value) for value in session.execute(_NEXT_DUE).one() if value is not None]
    if not found or min(found) > now:
        held = session.execute(_HELD_INLINE, {"at": now}).scalar_one_or_none()
        if held is not None:
            found.append(aware(held))
    return min(found) if found else None


def aware(value: Any) -> datetime:
    """Return ``value`` (a datetime or SQLite's text form) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


def _held_by(table: Any, status: str, items: Sequence[ClaimedWork]) -> Any:
    owner = items[0].claim.owner
    return (
        tuple_(table.c.id, table.c.fencing_token).in_(
            [(item.id, item.claim.fencing_token) for item in items]
        ),
        table.c.status == status,
        table.c.lease_owner == owner,
    )


def _split(items: Sequence[ClaimedWork]) -> list[tuple[Any, str, list[ClaimedWork]]]:
    parts: list[tuple[Any, str, list[ClaimedWork]]] = []
    for kind, table, status in (("directive", _D, "running"), ("delivery", _V, "pending")):
        mine = [item for item in items if item.kind == kind]
        if mine:
            parts.append((table, status, mine))
    return parts


def renew(
    db: Database, tenant: str, items: Sequence[ClaimedWork], lease: timedelta
) -> list[ClaimedWork]:
    """Extend the leases of ``items`` (all of ``tenant``, one owner); return those lost.

    An item is lost once it finished, was released, canceled, or claimed again by another
    worker after its lease expired; its runner's commit is then refused by the fence.

    On PostgreSQL the renewal never waits for a row lock: a row locked by its runner's
    open transaction (a group of directives finishing, see :mod:`.group_runner`) is
    skipped, and counted as held while it still carries our claim, so renewing cannot
    deadlock with a runner that locks several rows in another order.
    """
    if not items:
        return []
    expires = utcnow() + lease
    held: set[tuple[str, Any]] = set()
    with db.tenant_session(tenant) as session:
        skip_locked = session.get_bind().dialect.name == "postgresql"
        for table, status, mine in _split(items):
            extra = {"next_attempt_at": expires} if table is _V else {}
            kind = mine[0].kind
            target: Any = _held_by(table, status, mine)
            if skip_locked:
                lockable = (
                    select(table.c.id).where(*target).with_for_update(skip_locked=True)
                ).scalar_subquery()
                target = (table.c.id.in_(lockable),)
            stmt = update(table).where(*target).values(lease_expires_at=expires, **extra)
            renewed = {row.id for row in session.execute(stmt.returning(table.c.id))}
            if skip_locked and len(renewed) < len(mine):
                # Skipped or lost: a plain read tells which still carry our claim.
                rest = [item for item in mine if item.id not in renewed]
                still = select(table.c.id).where(*_held_by(table, status, rest))
                renewed.update(session.execute(still).scalars())
            held.update((kind, item_id) for item_id in renewed)
    return [item for item in items if (item.kind, item.id) not in held]


def release(db: Database, tenant: str, items: Sequence[ClaimedWork], *, ran: bool = False) -> int:
    """Give back ``items`` (all of ``tenant``, one owner) so another worker can take them.

    The fencing token moves on, so a runner still holding the old claim cannot commit.
    With ``ran=False`` (never started) the attempt counted at claim time is given back.
    Items no longer held are left alone. Returns how many were released.
    """
    if not items:
        return 0
    from .scheduler import mark_due

    at = utcnow()
    released = 0
    with db.tenant_session(tenant) as session:
        for table, status, mine in _split(items):
            extra: dict[str, Any] = (
                {"next_attempt_at": at} if table is _V else {"status": "requested"}
            )
            if table is _D and not ran:
                extra["started_at"] = None
            stmt = (
                update(table)
                .where(*_held_by(table, status, mine))
                .values(
                    lease_owner=None,
                    lease_expires_at=None,
                    fencing_token=table.c.fencing_token + 1,
                    attempts=table.c.attempts - (0 if ran else 1),
                    updated_at=at,
                    **extra,
                )
            )
            released += cast(CursorResult[Any], session.execute(stmt)).rowcount
        if released:
            mark_due(session, tenant, at)
    return released
