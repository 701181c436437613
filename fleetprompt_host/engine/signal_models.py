"""The shapes of a signal: what a caller describes, its column values, and the SDK's view.

:class:`SignalInput` is a signal before validation; :func:`row_values` turns it into the
values of a ``signals`` row; :func:`model_of`, :func:`signal_of` and :func:`to_model`
build the :class:`~fleetprompt_sdk.models.Signal` that emitters and readers get back.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleetprompt_host.storage.models import SignalRow
from fleetprompt_sdk.models import Actor, Signal, Subject

from .signal_ids import new_id


@dataclass(frozen=True)
class SignalInput:
    """A signal as the caller describes it, before validation."""

    type: str
    data: dict[str, Any]
    source: str
    subject: Subject | None = None
    actor: Actor | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    occurred_at: datetime | None = None
    dedupe_key: str | None = None
    source_event_id: str | None = None


def row_values(item: SignalInput, signal_id: str | None = None) -> dict[str, Any]:
    """Return a signal's column values except ``seq`` and ``recorded_at``."""
    return {
        "id": signal_id or new_id(),
        "type": item.type,
        "data": item.data,
        "source": item.source,
        "source_event_id": item.source_event_id,
        "subject_type": item.subject.type if item.subject else None,
        "subject_id": item.subject.id if item.subject else None,
        "actor": str(item.actor) if item.actor else None,
        "correlation_id": item.correlation_id,
        "causation_id": item.causation_id,
        "dedupe_key": item.dedupe_key,
        "occurred_at": item.occurred_at,
    }


def model_of(values: dict[str, Any], tenant: str) -> Signal:
    """Return the SDK view of a signal's column values."""
    subject = None
    if values["subject_type"] is not None:
        subject = Subject(type=values["subject_type"], id=values["subject_id"])
    return Signal(
        id=values["id"],
        seq=values["seq"],
        tenant=tenant,
        type=values["type"],
        data=values["data"],
        source=values["source"],
        subject=subject,
        actor=_actor(values["actor"]) if values["actor"] else None,
        correlation_id=values["correlation_id"],
        causation_id=values["causation_id"],
        dedupe_key=values["dedupe_key"],
        occurred_at=values["occurred_at"],
        recorded_at=values["recorded_at"],
    )


def signal_of(item: SignalInput, values: dict[str, Any], tenant: str) -> Signal:
    """Return the SDK view of ``item`` written with ``values`` (its id, seq and times).

    Equal to :func:`model_of` of the values, but reuses the item's own subject and actor
    objects instead of rebuilding them from their column text.
    """
    subject, actor = item.subject, item.actor
    if subject is not None and not isinstance(subject, Subject):
        subject = Subject(type=values["subject_type"], id=values["subject_id"])
    if actor is not None and not isinstance(actor, Actor):
        actor = _actor(values["actor"])
    return Signal(
        id=values["id"],
        seq=values["seq"],
        tenant=tenant,
        type=item.type,
        data=item.data,
        source=item.source,
        subject=subject,
        actor=actor,
        correlation_id=item.correlation_id,
        causation_id=item.causation_id,
        dedupe_key=item.dedupe_key,
        occurred_at=values["occurred_at"],
        recorded_at=values["recorded_at"],
    )


@functools.lru_cache(maxsize=1024)
def _actor(text: str) -> Actor:
    # Actors are frozen, and signals name few distinct ones: parse each text once.
    return Actor.parse(text)


def to_model(row: SignalRow, tenant: str) -> Signal:
    """Return the SDK view of a stored signal."""
    return model_of(
        {c: getattr(row, c) for c in SignalRow.__table__.columns.keys()},  # noqa: SIM118
        tenant,
    )
