"""Emitting many signals in one unit of work, with a constant number of round trips.

:func:`emit_signals` applies exactly the rules of
:func:`~fleetprompt_host.engine.signals.emit_signal` to every item, in order, but takes the
tenant's signal counter first, so the dedupe lookup that follows is authoritative (every
signal is written under that lock): one lookup for all the keys, one allocation of all
the numbers, one multi-row INSERT of the signals and one of their deliveries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import SignalRow
from fleetprompt_sdk.errors import StorageError
from fleetprompt_sdk.models import Signal

from . import pg_fast, sqlite_fast
from .installed import active_packages
from .signal_ids import new_ids
from .signals import (
    COUNTER,
    SignalInput,
    delivery_row,
    model_of,
    row_values,
    signal_of,
    to_model,
    validate_signal,
)
from .statements import DELIVERY_INSERT, allocate_fast, dialect_of, signals_insert_numbered
from .subscriptions import any_subscriber, subscribers
from .wakeups import work_created


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
    texts = [validate_signal(registry, item, package=package, memo=memo) for item in items]
    if not items:
        return []
    keyed = any(i.dedupe_key is not None or i.source_event_id is not None for i in items)
    if keyed:
        allocate_fast(session, COUNTER, 0)  # the lock: from here on, the lookup is final
    # A key maps to its stored signal, or to the position in ``fresh`` of the item that
    # will write it (a duplicate within the batch).
    by_key: dict[str, Signal | int] = {}
    by_event: dict[tuple[str, str], Signal | int] = {}
    for row in _stored(session, items) if keyed else ():
        stored = to_model(row, tenant)
        if row.dedupe_key is not None:
            by_key[row.dedupe_key] = stored
        if row.source_event_id is not None:
            by_event[(row.source, row.source_event_id)] = stored
    plan: list[tuple[Signal | int, bool]] = []
    fresh: list[tuple[SignalInput, str]] = []
    for item, text in zip(items, texts, strict=True):
        event = _event(item)
        hit = by_key.get(item.dedupe_key) if item.dedupe_key is not None else None
        if hit is None and event is not None:
            hit = by_event.get(event)
        if hit is not None:
            plan.append((hit, False))
            continue
        plan.append((len(fresh), True))
        if item.dedupe_key is not None:
            by_key[item.dedupe_key] = len(fresh)
        if event is not None:
            by_event[event] = len(fresh)
        fresh.append((item, text))
    written = _write(session, registry, tenant, fresh) if fresh else []
    return [
        (written[entry] if isinstance(entry, int) else entry, created) for entry, created in plan
    ]


def emit_many(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    items: Sequence[SignalInput],
    *,
    package: str | None = None,
) -> list[tuple[Signal, bool]]:
    """Emit ``items`` in one transaction of their own (see :func:`emit_signals`)."""
    with db.tenant_session(tenant) as session:
        return emit_signals(session, registry, tenant, items, package=package)


def _write(
    session: Session,
    registry: PackageRegistry,
    tenant: str,
    fresh: list[tuple[SignalInput, str]],
) -> list[Signal]:
    """Number, insert and fan out ``fresh`` (valid, new items); return their signals."""
    items = [item for item, _ in fresh]
    texts = [text for _, text in fresh]
    rows = [row_values(i, id_) for i, id_ in zip(items, new_ids(len(items)), strict=True)]
    if dialect_of(session) == "postgresql":
        last = allocate_fast(session, COUNTER, len(rows))
        now = _number(rows, last, utcnow())
        pg_fast.insert_signals(pg_fast.raw_connection(session), rows, texts)
    else:
        raw = sqlite_fast.raw_connection(session)
        last = sqlite_fast.allocate(raw, COUNTER, len(rows))
        now = _number(rows, last, utcnow())
        dialect = session.get_bind().dialect
        times: dict[datetime, str] = {}
        sqlite_fast.insert_signals(
            raw,
            [
                sqlite_fast.params(dialect, v, text, times)
                for v, text in zip(rows, texts, strict=True)
            ],
        )
    signals = [signal_of(i, values, tenant) for i, values in zip(items, rows, strict=True)]
    deliveries: list[dict[str, Any]] = []
    handlers: dict[str, tuple[str, ...]] = {}
    for values in rows:
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
    return signals


def _number(rows: list[dict[str, Any]], last: int, now: datetime) -> datetime:
    """Give ``rows`` the numbers up to ``last`` in order, and their times; return ``now``."""
    for number, values in enumerate(rows, start=last - len(rows) + 1):
        values["seq"] = number
        values["recorded_at"] = now
        if values["occurred_at"] is None:
            values["occurred_at"] = now
    return now


def emit_fresh(
    session: Session, registry: PackageRegistry, tenant: str, items: Sequence[SignalInput]
) -> list[Signal]:
    """Write host signals whose dedupe keys cannot exist yet, without looking them up.

    For the runner's lifecycle signals: each key names one transition of one attempt,
    which the fence lets only one transaction write. A duplicate anyway is a
    :class:`StorageError` (``signal-conflict``) that rolls the unit of work back. On
    PostgreSQL a run's two signals are numbered and inserted in one statement; a group's
    many go through the batch writer (one numbering, one insert of column arrays).
    """
    memo: dict[str, dict[str, Any] | None] = {}
    texts = [validate_signal(registry, item, memo=memo) for item in items]
    if dialect_of(session) != "postgresql" or len(items) > _ONE_STATEMENT_ROWS:
        try:
            return _write(session, registry, tenant, list(zip(items, texts, strict=True)))
        except IntegrityError as error:
            raise _conflict() from error
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
        raise _conflict()
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


#: Up to this many rows, PostgreSQL numbers and inserts fresh signals in one statement
#: (one round trip); past it the statement's planning costs more than a second one.
_ONE_STATEMENT_ROWS = 4


def _conflict() -> StorageError:
    return StorageError("a lifecycle signal collided with an existing one", code="signal-conflict")
