"""Signals no handler subscribes to: the same rules as every emit, on SQLite and PostgreSQL.

On SQLite such an emit is written without an ORM session; these tests pin down that it
numbers, deduplicates, stores and returns exactly as the general path does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fleetprompt_host.engine.signals import to_model
from fleetprompt_host.storage.models import DeliveryRow, SignalRow
from fleetprompt_sdk.models import Actor, Subject

from .conftest import all_at_once

LONELY = "billing.invoice.sent"  # no package subscribes to billing.*


def test_unsubscribed_and_subscribed_signals_share_one_gap_free_sequence(engine: Any) -> None:
    seqs = [engine.emit(LONELY if n % 2 else "shop.order.noted", {"n": n})[0].seq for n in range(6)]
    assert seqs == [1, 2, 3, 4, 5, 6]
    assert [s.type for s in engine.signals()] == ["shop.order.noted", LONELY] * 3
    assert engine.count(DeliveryRow, DeliveryRow.signal_seq.in_([2, 4, 6])) == 0


def test_the_returned_signal_is_the_stored_one(engine: Any) -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    data = {"amount": 12.5, "lines": [{"sku": "a", "qty": 2}], "note": "café ☕", "none": None}
    signal, created = engine.emit(
        LONELY,
        data,
        source="billing",
        subject=Subject(type="invoice", id="42"),
        actor=Actor.parse("user:olivia"),
        correlation_id="corr",
        causation_id="cause",
        occurred_at=when,
    )
    assert created
    (row,) = engine.signals()
    stored = to_model(row, engine.tenant)
    assert stored.data == data and stored.occurred_at == when
    assert stored.model_dump(exclude={"occurred_at", "recorded_at"}) == signal.model_dump(
        exclude={"occurred_at", "recorded_at"}
    )
    assert stored.recorded_at is not None and signal.recorded_at is not None
    assert abs(stored.recorded_at - signal.recorded_at) < timedelta(milliseconds=1)
    assert stored.occurred_at.tzinfo is UTC or stored.occurred_at.utcoffset() == timedelta(0)


def test_a_dedupe_key_or_source_event_returns_the_stored_signal_and_writes_nothing(
    engine: Any,
) -> None:
    first, _ = engine.emit(LONELY, {"v": 1}, dedupe_key="inv-1")
    again, created = engine.emit(LONELY, {"v": 2}, dedupe_key="inv-1")
    assert not created and again.id == first.id and again.data == {"v": 1}
    imported, _ = engine.emit(LONELY, {}, source="stripe", source_event_id="evt_9")
    repeat, repeat_created = engine.emit(LONELY, {}, source="stripe", source_event_id="evt_9")
    assert not repeat_created and repeat.id == imported.id
    after, _ = engine.emit(LONELY, {"v": 3})
    assert after.seq == 3 and engine.count(SignalRow) == 3


def test_concurrent_emits_of_one_dedupe_key_yield_one_signal_and_no_gap(engine: Any) -> None:
    def emit_once(n: int) -> tuple[str, bool]:
        signal, created = engine.emit(LONELY, {"n": n}, dedupe_key="race")
        engine.emit(LONELY, {"n": n})
        return signal.id, created

    results = all_at_once(5, emit_once)

    assert len({signal_id for signal_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert [s.seq for s in engine.signals()] == list(range(1, 7))


def test_a_package_registered_later_receives_the_types_nobody_subscribed_to_before(
    engine: Any,
) -> None:
    from fleetprompt_sdk import Package
    from fleetprompt_sdk.manifest import Manifest

    engine.emit(LONELY, {"n": 1})
    assert engine.count(DeliveryRow) == 0
    billing = Package("billing")

    @billing.on_signal("archive")
    def archive(ctx: Any, signal: Any) -> None:
        """Keep a copy."""

    manifest = {
        "name": "billing",
        "version": "1.0",
        "display_name": "Billing",
        "permissions": ["signals:subscribe"],
        "signals": {"subscribes": [{"handler": "archive", "pattern": "billing.**"}]},
    }
    engine.registry.register(billing, Manifest.model_validate(manifest))
    engine.install("billing")
    signal, _ = engine.emit(LONELY, {"n": 2})
    assert [(d.signal_id, d.handler) for d in engine.deliveries()] == [
        (signal.id, "billing:archive")
    ]
