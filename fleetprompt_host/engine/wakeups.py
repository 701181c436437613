"""Hook point for waking workers when new work is written.

Whenever the engine inserts a directive or a delivery it calls :func:`work_created` in the
same transaction. Workers register a listener (for example one that runs
``pg_notify`` so idle workers wake when the transaction commits). A listener is called at
most once per transaction, tenant and kind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

#: ``(session, tenant, kind, due_at)`` with ``kind`` ``"directive"`` or ``"delivery"``.
WorkListener = Callable[[Session, str, str, datetime], None]

_listeners: list[WorkListener] = []
_SEEN = "fp_work_notified"
_MARKED = "fp_work_marked"


def add_work_listener(listener: WorkListener) -> None:
    """Call ``listener`` whenever new work is written (idempotent per listener)."""
    if listener not in _listeners:
        _listeners.append(listener)


def remove_work_listener(listener: WorkListener) -> None:
    """Stop calling ``listener``."""
    if listener in _listeners:
        _listeners.remove(listener)


def work_created(session: Session, tenant: str, kind: str, due_at: datetime) -> None:
    """Tell the listeners that ``kind`` work due at ``due_at`` was written in ``session``."""
    # The host work index is how workers find due work, whichever process wrote it: the
    # tenant is marked in this transaction, again only when this work is due earlier.
    marked: dict[str, datetime] = session.info.setdefault(_MARKED, {})
    if tenant not in marked or due_at < marked[tenant]:
        from .scheduler import mark_due

        mark_due(session, tenant, due_at)
        marked[tenant] = due_at
    if not _listeners:
        return
    seen: set[tuple[str, str]] = session.info.setdefault(_SEEN, set())
    if (tenant, kind) in seen:
        return
    seen.add((tenant, kind))
    for listener in list(_listeners):
        listener(session, tenant, kind, due_at)
