"""The one audited way to delete signals: retention run by the host, never by a tenant.

Tenant roles cannot delete signals at all (no privilege on PostgreSQL, a trigger and an
authorizer on SQLite). This path lifts the trigger for one transaction, deletes signals
recorded before a cut-off, and writes a ``signals.prune`` entry to the host audit log.
"""

from __future__ import annotations

from datetime import datetime

from fleetprompt_sdk.errors import InvalidInputError

from .base import utcnow
from .database import Database, _actor_text
from .models.signals import SignalRow
from .registry import audit
from .slugs import validate_slug


def prune_signals(db: Database, slug: str, before: datetime, actor: str) -> int:
    """Delete tenant ``slug``'s signals recorded before ``before``; return how many.

    Deliveries of those signals go with them. ``before`` must be aware and in the past.
    """
    validate_slug(slug)
    who = _actor_text(actor)
    if before.tzinfo is None:
        raise InvalidInputError(
            "retention cut-off must carry a time zone", code="invalid-retention"
        )
    if before > utcnow():
        raise InvalidInputError(
            f"retention cut-off {before.isoformat()} is in the future", code="invalid-retention"
        )
    with db.backend.host_transaction() as conn:
        row = db._active_row(slug, conn)
        deleted = db.backend.delete_signals(conn, row, SignalRow.recorded_at < before)
        audit(conn, who, "signals.prune", slug, before=before.isoformat(), deleted=deleted)
    return deleted
