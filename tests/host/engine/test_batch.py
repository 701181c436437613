"""Emitting many signals in one unit of work: same rules, one counter allocation."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_host.engine.batch import emit_signals
from fleetprompt_host.engine.signals import SignalInput
from fleetprompt_host.storage.models import DeliveryRow, SignalRow
from fleetprompt_sdk.errors import InvalidInputError


def _batch(engine: Any, items: list[SignalInput]) -> list[Any]:
    with engine.db.tenant_session(engine.tenant) as session:
        return emit_signals(session, engine.registry, engine.tenant, items)


def _item(type_: str = "shop.order.placed", **kw: Any) -> SignalInput:
    kw.setdefault("data", {"order": "1"})
    return SignalInput(type=type_, source="test", **kw)


def test_a_batch_gets_consecutive_seq_in_order_and_fans_out(engine: Any) -> None:
    engine.emit("shop.order.noted", {})
    results = _batch(engine, [_item(data={"order": str(n)}) for n in range(5)])
    assert [(s.seq, created) for s, created in results] == [(n, True) for n in range(2, 7)]
    assert [s.data["order"] for s in engine.signals()[1:]] == ["0", "1", "2", "3", "4"]
    assert engine.count(DeliveryRow) == 2 + 5 * 2
    recorded = [s.recorded_at for s, _ in results]
    assert None not in recorded


def test_duplicates_in_a_batch_and_of_stored_signals_are_returned_not_written(
    engine: Any,
) -> None:
    stored, _ = engine.emit("shop.order.placed", {"order": "old"}, dedupe_key="old")
    results = _batch(
        engine,
        [
            _item(dedupe_key="old"),
            _item(dedupe_key="new", data={"order": "a"}),
            _item(dedupe_key="new", data={"order": "b"}),
            _item("shop.order.noted", data={}, source_event_id="e1"),
            _item("shop.order.noted", data={}, source_event_id="e1"),
        ],
    )
    created = [c for _, c in results]
    assert created == [False, True, False, True, False]
    assert results[0][0].id == stored.id
    assert results[2][0].id == results[1][0].id and results[2][0].seq == results[1][0].seq == 2
    assert results[4][0].id == results[3][0].id
    assert [s.seq for s in engine.signals()] == [1, 2, 3]


def test_one_bad_item_writes_nothing(engine: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        _batch(engine, [_item(), _item(data={"password": "x"})])
    assert info.value.code == "signal-data-secret"
    assert engine.count(SignalRow) == 0 and engine.count(DeliveryRow) == 0


def test_the_host_emits_many_signals_in_one_transaction_all_or_nothing(engine: Any) -> None:
    from fleetprompt_host.host import Host

    with Host(engine.db.url, registry=engine.registry) as host:
        results = host.emit_many(
            engine.tenant,
            [_item(data={"order": "a"}, dedupe_key="a"), _item("billing.invoice.sent", data={})],
        )
        assert [(s.seq, s.type, created) for s, created in results] == [
            (1, "shop.order.placed", True),
            (2, "billing.invoice.sent", True),
        ]
        with pytest.raises(InvalidInputError):
            host.emit_many(engine.tenant, [_item(dedupe_key="b"), _item(data={"token": "x"})])
        again = host.emit_many(engine.tenant, [_item(dedupe_key="a")])
        assert again == [(results[0][0], False)]
        assert [s.seq for s in host.signals(engine.tenant)] == [1, 2]
