"""Emitting many signals in one unit of work, with a constant number of round trips.

:func:`emit_signals` applies exactly the rules of
:func:`~fleetprompt_host.engine.signals.emit_signal` to every item, in order, but takes the
tenant's signal counter first, so the dedupe lookup that follows is authoritative (every
signal is written under that lock): one lookup for all the keys, one allocation of all
the numbers, one multi-row INSERT of the signals and one of their deliveries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, insert, or_, select, tuple_
from sqlalchemy.orm import Session

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import SignalRow
from fleetprompt_sdk.errors import StorageError
from fleetprompt_sdk.models import Signal

from .installed import active_packages
from .signals import (
    COUNTER,
    SignalInput,
    delivery_row,
    emit_signal,
    model_of,
    row_values,
    to_model,
    validate_signal,
)
from .statements import DELIVERY_INSERT, allocate_fast, dialect_of, signals_insert_numbered
from .subscriptions import any_subscriber, subscribers
from .wakeups import work_created

_SIGNALS = SignalRow.__table__


def _event(item: SignalInput) -> tuple[str, str] | None:
    return (item.source, item.source_event_id) if item.source_event_id is not None else None


def _stored(session: Session, items: Sequence[SignalInput]) -> list[SignalRow]:
    keys = {i.dedupe_key for i in items if i.dedupe_key is not None}
    events = {e for e in map(_event, items) if e is not None}
    conditions = []
    if keys:
        conditions.append(SignalRow.dedupe_key.in_(keys))
    if events:
        conditions.append(
            and_(
                SignalRow.source_event_id.is_not(None),
                tuple_(SignalRow.source, SignalRow.source_event_id).in_(events),
            )
        )
    if not conditions:
        return []
    return list(session.execute(select(SignalRow).where(or_(*conditions))).scalars())


def emit_signals(
    session: Session,
    registry: PackageRegistry,
    tenant: str,
    items: Sequence[SignalInput],
    *,
    package: str | None = None,
) -> list[tuple[Signal, bool]]:
    """Validate, persist and fan out ``items`` in order; return (signal, created) for each.

    Nothing is written when any item is invalid. Duplicates (of stored signals, or of an
    earlier item of the batch) return the first signal with ``created=False``.
    """
    memo: dict[str, dict[str, Any] | None] = {}
    for item in items:
        validate_signal(registry, item, package=package, memo=memo)
    if not items:
        return []
    keyed = any(i.dedupe_key is not None or i.source_event_id is not None for i in items)
    if keyed:
        allocate_fast(session, COUNTER, 0)  # the lock: from here on, the lookup is final
    by_key: dict[str, Signal] = {}
    by_event: dict[tuple[str, str], Signal] = {}
    for row in _stored(session, items) if keyed else ():
        stored = to_model(row, tenant)
        if row.dedupe_key is not None:
            by_key[row.dedupe_key] = stored
        if row.source_event_id is not None:
            by_event[(row.source, row.source_event_id)] = stored
    results: list[tuple[Signal, bool] | dict[str, Any]] = []
    fresh: list[dict[str, Any]] = []
    for item in items:
        event = _event(item)
        hit = (by_key.get(item.dedupe_key) if item.dedupe_key else None) or (
            by_event.get(event) if event else None
        )
        if hit is not None:
            results.append((hit, False))
            continue
        values = row_values(item)
        values["occurred_at"] = values["occurred_at"] or utcnow()
        fresh.append(values)
        results.append(values)
        if item.dedupe_key is not None or event is not None:
            placeholder = model_of({**values, "seq": 0, "recorded_at": None}, tenant)
            if item.dedupe_key is not None:
                by_key[item.dedupe_key] = placeholder
            if event is not None:
                by_event[event] = placeholder
    if fresh:
        _write(session, registry, tenant, fresh)
    final: dict[str, Signal] = {}
    out: list[tuple[Signal, bool]] = []
    for entry in results:
        if isinstance(entry, dict):
            final[entry["id"]] = model_of(entry, tenant)
            out.append((final[entry["id"]], True))
        else:
            signal, _ = entry
            # An in-batch duplicate points at a signal written just now: return its final form.
            out.append((final.get(signal.id, signal), False))
    return out


def _write(
    session: Session, registry: PackageRegistry, tenant: str, fresh: list[dict[str, Any]]
) -> None:
    last = allocate_fast(session, COUNTER, len(fresh))
    now = utcnow()
    for number, values in enumerate(fresh, start=last - len(fresh) + 1):
        values.update(seq=number, recorded_at=now)
    session.execute(insert(_SIGNALS), fresh)
    deliveries: list[dict[str, Any]] = []
    handlers: dict[str, tuple[str, ...]] = {}
    for values in fresh:
        type_ = values["type"]
        if type_ not in handlers:
            handlers[type_] = (
                subscribers(registry, active_packages(session), type_)
                if any_subscriber(registry, type_)
                else ()
            )
        deliveries += [delivery_row(values["id"], values["seq"], h, now) for h in handlers[type_]]
    if deliveries:
        session.execute(DELIVERY_INSERT, deliveries)
        work_created(session, tenant, "delivery", now)


def emit_fresh(
    session: Session, registry: PackageRegistry, tenant: str, items: Sequence[SignalInput]
) -> list[Signal]:
    """Write host signals whose dedupe keys cannot exist yet, in one statement on PostgreSQL.

    For the runner's lifecycle signals: each key names one transition of one attempt,
    which the fence lets only one transaction write. A duplicate anyway is a
    :class:`StorageError` (``signal-conflict``) that rolls the unit of work back.
    """
    memo: dict[str, dict[str, Any] | None] = {}
    for item in items:
        validate_signal(registry, item, memo=memo)
    if dialect_of(session) != "postgresql":
        return [emit_signal(session, registry, tenant, i, validated=True)[0] for i in items]
    rows = [row_values(item) for item in items]
    params: dict[str, Any] = {}
    now = utcnow()
    for n, values in enumerate(rows):
        values["occurred_at"] = values["occurred_at"] or now
        params.update({f"{name}_{n}": value for name, value in values.items()})
    written = {
        r.id: r for r in session.execute(signals_insert_numbered(COUNTER, len(rows)), params)
    }
    if len(written) != len(rows):
        raise StorageError(
            "a lifecycle signal collided with an existing one", code="signal-conflict"
        )
    signals: list[Signal] = []
    for values in rows:
        stored = written[values["id"]]
        values.update(seq=stored.seq, recorded_at=stored.recorded_at)
        signals.append(model_of(values, tenant))
        if any_subscriber(registry, values["type"]):
            handlers = subscribers(registry, active_packages(session), values["type"])
            if handlers:
                session.execute(
                    DELIVERY_INSERT,
                    [delivery_row(values["id"], values["seq"], h, now) for h in handlers],
                )
                work_created(session, tenant, "delivery", now)
    return signals
