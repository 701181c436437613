"""Leases: how a worker claims a directive or a delivery before running it.

A claim is one conditional UPDATE in the claimer's transaction. It succeeds only on a row
that is due (or whose previous lease expired) and sets, in one statement:

- directives: ``status='running'``, ``attempts+1``, ``started_at=now``;
- deliveries: ``attempts+1`` (the status stays ``pending`` while leased);
- both: ``lease_owner``, ``lease_expires_at=now+lease`` and ``fencing_token+1``.

The returned :class:`Claim` (owner and new token) is what the runner needs: it commits the
run only if the row still carries that token. Counting the attempt at claim time means a
worker killed mid-run still used an attempt, so a directive that crashes its worker
cannot loop forever. Workers that find due rows their own way (``FOR UPDATE SKIP LOCKED``
over :func:`directive_due` / :func:`delivery_due`) call :func:`claim_directive` /
:func:`claim_delivery` on the ids they locked.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm import Session

from fleetprompt_host.storage import Database
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import DeliveryRow, DirectiveRow

from .statements import DELIVERY_CLAIM, DIRECTIVE_CLAIM

#: Default lease: a run that takes longer may be taken over (and is then fenced out).
DEFAULT_LEASE_SECONDS = 300.0


@dataclass(frozen=True)
class Claim:
    """What a worker holds after claiming a row: its name and the row's new fencing token."""

    owner: str
    fencing_token: int


def affected(result: Result[Any]) -> int:
    """Return how many rows an UPDATE or DELETE result touched."""
    return int(cast("CursorResult[Any]", result).rowcount)


def default_owner(prefix: str = "inline") -> str:
    """Return a claim owner name for this process: ``prefix:host:pid``."""
    return f"{prefix}:{socket.gethostname()[:60]}:{os.getpid()}"


def directive_due(now: datetime) -> ColumnElement[bool]:
    """SQL condition: the directive may be claimed at ``now``."""
    return or_(
        and_(DirectiveRow.status == "requested", DirectiveRow.run_after <= now),
        and_(DirectiveRow.status == "running", DirectiveRow.lease_expires_at < now),
    )


def delivery_due(now: datetime) -> ColumnElement[bool]:
    """SQL condition: the delivery may be claimed at ``now``."""
    return and_(
        DeliveryRow.status == "pending",
        DeliveryRow.next_attempt_at <= now,
        or_(DeliveryRow.lease_expires_at.is_(None), DeliveryRow.lease_expires_at < now),
    )


def _claim(
    session: Session,
    statement: Any,
    row_id: str | int,
    owner: str,
    lease_seconds: float,
    now: datetime | None,
) -> Claim | None:
    """Run a claim statement (due row -> leased, token bumped); None when nothing was due."""
    now = now or utcnow()
    params = {
        "p_id": row_id,
        "p_now": now,
        "p_owner": owner,
        "p_expires": now + timedelta(seconds=lease_seconds),
    }
    token = session.execute(statement, params).scalar_one_or_none()
    return None if token is None else Claim(owner, int(token))


def claim_directive(
    session: Session,
    directive_id: str,
    owner: str,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    now: datetime | None = None,
) -> Claim | None:
    """Claim directive ``directive_id`` in ``session`` if it is due; None when it is not."""
    return _claim(session, DIRECTIVE_CLAIM, directive_id, owner, lease_seconds, now)


def claim_delivery(
    session: Session,
    delivery_id: int,
    owner: str,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    now: datetime | None = None,
) -> Claim | None:
    """Claim delivery ``delivery_id`` in ``session`` if it is due; None when it is not."""
    return _claim(session, DELIVERY_CLAIM, delivery_id, owner, lease_seconds, now)


def claim_directive_inline(
    db: Database,
    tenant: str,
    directive_id: str,
    *,
    owner: str | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> Claim | None:
    """Claim a directive in a transaction of its own (embedded mode, ``--wait``)."""
    with db.tenant_session(tenant) as session:
        return claim_directive(
            session, directive_id, owner or default_owner(), lease_seconds=lease_seconds
        )


def claim_delivery_inline(
    db: Database,
    tenant: str,
    delivery_id: int,
    *,
    owner: str | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> Claim | None:
    """Claim a delivery in a transaction of its own (embedded mode)."""
    with db.tenant_session(tenant) as session:
        return claim_delivery(
            session, delivery_id, owner or default_owner(), lease_seconds=lease_seconds
        )
