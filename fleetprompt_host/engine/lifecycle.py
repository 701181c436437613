"""Directive lifecycle signals: ``directive.requested|started|succeeded|failed|canceled``.

Each carries the directive as its subject, the directive's correlation id, and a dedupe
key that names the transition and the attempt (or fencing token), so writing the same
transition twice is a no-op while a rerun's transitions are new facts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage.models import DirectiveRow
from fleetprompt_sdk.models import Actor, Signal, Subject

from .signals import HOST_SOURCE, SignalInput, emit_signal

EVENTS = ("requested", "started", "succeeded", "failed", "canceled")


def lifecycle_input(
    row: DirectiveRow,
    event: str,
    *,
    mark: int,
    extra: dict[str, Any] | None = None,
    actor: str | None = None,
    occurred_at: datetime | None = None,
) -> SignalInput:
    """Return ``directive.<event>`` for ``row``; ``mark`` (attempt or token) keys the dedupe."""
    assert event in EVENTS, event
    data: dict[str, Any] = {"directive_id": row.id, "type": row.type, "attempt": row.attempts}
    data.update(extra or {})
    return SignalInput(
        type=f"directive.{event}",
        data=data,
        source=HOST_SOURCE,
        subject=Subject(type="directive", id=row.id),
        actor=Actor.parse(actor or row.actor),
        correlation_id=row.correlation_id,
        causation_id=row.causation_id if event == "requested" else row.id,
        dedupe_key=f"directive:{row.id}:{event}:{mark}",
        occurred_at=occurred_at,
    )


def lifecycle_signal(
    session: Session,
    registry: PackageRegistry,
    tenant: str,
    row: DirectiveRow,
    event: str,
    *,
    mark: int,
    extra: dict[str, Any] | None = None,
    actor: str | None = None,
    occurred_at: datetime | None = None,
) -> Signal:
    """Emit ``directive.<event>`` for ``row`` in ``session`` (see :func:`lifecycle_input`)."""
    item = lifecycle_input(row, event, mark=mark, extra=extra, actor=actor, occurred_at=occurred_at)
    # Each key names one transition: a duplicate is all but impossible, and the insert
    # would still catch it, so no lookup first.
    signal, _ = emit_signal(session, registry, tenant, item, precheck=False)
    return signal
