"""Emitting signals: validation, dedupe, ordering and fanout, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import exc, select, text

from fleetprompt_host.engine.signals import MAX_DATA_BYTES, SignalInput, emit_signal
from fleetprompt_host.storage.models import CounterRow, DeliveryRow, SignalRow
from fleetprompt_sdk.errors import InvalidInputError
from fleetprompt_sdk.models import Actor, Subject

from .conftest import all_at_once


def test_emitted_signals_get_consecutive_seq_and_are_returned_as_created(engine: Any) -> None:
    first, created = engine.emit("shop.order.noted", {"n": 1})
    second, again = engine.emit("shop.order.noted", {"n": 2}, subject=Subject(type="o", id="7"))
    assert (first.seq, second.seq, created, again) == (1, 2, True, True)
    assert second.subject == Subject(type="o", id="7")
    stored = engine.signals()
    assert [(s.seq, s.data) for s in stored] == [(1, {"n": 1}), (2, {"n": 2})]


BAD_INPUTS = [
    pytest.param({"type": "Shop.Order"}, "invalid-signal-type", id="uppercase-type"),
    pytest.param({"type": "shop"}, "invalid-signal-type", id="one-segment"),
    pytest.param({"type": "shop..order"}, "invalid-signal-type", id="empty-segment"),
    pytest.param({"type": "shop.order.v2"}, "invalid-signal-type", id="versioned"),
    pytest.param({"data": {"when": {1, 2}}}, "signal-data-not-json", id="set"),
    pytest.param({"data": {"x": float("nan")}}, "signal-data-not-json", id="nan"),
    pytest.param({"data": {"raw": b"\x00"}}, "signal-data-not-json", id="bytes"),
    pytest.param({"data": {"m": {1: "a"}}}, "signal-data-not-json", id="int-key"),
    pytest.param({"data": ["not", "an", "object"]}, "signal-data-not-json", id="list"),
    pytest.param({"data": {"d": "x" * (MAX_DATA_BYTES + 1)}}, "signal-data-too-large", id="big"),
    pytest.param({"data": {"password": "hunter2"}}, "signal-data-secret", id="password"),
    pytest.param({"data": {"u": [{"apiKey": "k"}]}}, "signal-data-secret", id="nested-apikey"),
    pytest.param({"data": {"a": {"access_token": "t"}}}, "signal-data-secret", id="token"),
    pytest.param({"data": {"client_secret": "s"}}, "signal-data-secret", id="client-secret"),
    pytest.param({"source": ""}, "invalid-signal-field", id="empty-source"),
    pytest.param({"dedupe_key": "k" * 201}, "invalid-signal-field", id="long-dedupe-key"),
]


@pytest.mark.parametrize(("change", "code"), BAD_INPUTS)
def test_bad_signal_input_is_a_typed_error_and_nothing_is_written(
    engine: Any, change: dict[str, Any], code: str
) -> None:
    values: dict[str, Any] = {"type": "shop.order.noted", "data": {"ok": True}, **change}
    with pytest.raises(InvalidInputError) as info:
        engine.emit(values.pop("type"), values.pop("data"), **values)
    assert info.value.code == code
    assert engine.count(SignalRow) == 0
    assert engine.count(DeliveryRow) == 0
    assert engine.count(CounterRow) == 0


def test_deep_nesting_is_refused(engine: Any) -> None:
    data: dict[str, Any] = {}
    node = data
    for _ in range(40):
        node["n"] = {}
        node = node["n"]
    with pytest.raises(InvalidInputError) as info:
        engine.emit("shop.order.noted", data)
    assert info.value.code == "signal-data-not-json"
    assert "deeper than 32" in info.value.message


def test_keys_that_only_resemble_secret_words_are_allowed(engine: Any) -> None:
    data = {"tokens_in": 3, "password_hint": "pet", "secret_santa_group": 2, "max_tokens": 9}
    signal, _ = engine.emit("shop.order.noted", data)
    assert signal.data == data


def test_data_must_match_the_schema_the_owning_package_declares(engine: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        engine.emit("shop.order.placed", {"order": 5})
    assert info.value.code == "signal-data-invalid"
    assert info.value.message.startswith("data.order: 5 is not of type 'string'")
    assert engine.count(SignalRow) == 0


@pytest.mark.parametrize(
    ("type_", "code"),
    [("mailer.sent", "signal-namespace"), ("shop.order.shipped", "signal-not-declared")],
)
def test_package_code_emits_only_declared_types_in_its_namespace(
    engine: Any, type_: str, code: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        engine.emit(type_, {}, package="shop")
    assert info.value.code == code
    assert engine.count(SignalRow) == 0


def test_same_dedupe_key_returns_the_existing_signal_without_new_fanout(engine: Any) -> None:
    first, created = engine.emit("shop.order.placed", {"order": "a"}, dedupe_key="k1")
    deliveries = engine.count(DeliveryRow)
    again, created_again = engine.emit("shop.order.placed", {"order": "b"}, dedupe_key="k1")
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again.data == {"order": "a"}
    assert engine.count(SignalRow) == 1
    assert engine.count(DeliveryRow) == deliveries == 2  # notify and ledger


def test_source_event_id_dedupes_facts_imported_from_outside(engine: Any) -> None:
    one, _ = engine.emit("shop.order.noted", {}, source="stripe", source_event_id="evt_1")
    two, created = engine.emit("shop.order.noted", {}, source="stripe", source_event_id="evt_1")
    other, other_created = engine.emit(
        "shop.order.noted", {}, source="paypal", source_event_id="evt_1"
    )
    assert two.id == one.id and not created
    assert other.id != one.id and other_created
    assert [s.seq for s in engine.signals()] == [1, 2]


def test_concurrent_emits_with_one_dedupe_key_yield_one_signal_and_no_gap(engine: Any) -> None:
    def emit_once(n: int) -> tuple[str, bool]:
        signal, created = engine.emit("shop.order.placed", {"order": str(n)}, dedupe_key="race")
        engine.emit("shop.order.noted", {"n": n})
        return signal.id, created

    results = all_at_once(6, emit_once)

    assert len({signal_id for signal_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert [s.seq for s in engine.signals()] == list(range(1, 8))
    assert engine.count(DeliveryRow, DeliveryRow.signal_id == results[0][0]) == 2


def test_seq_is_gap_free_and_monotonic_under_concurrent_emitters(engine: Any) -> None:
    def emit_many() -> None:
        for n in range(15):
            engine.emit("shop.order.noted", {"n": n})

    threads = [threading.Thread(target=emit_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    signals = engine.signals()
    assert [s.seq for s in signals] == list(range(1, 61))
    recorded = [s.recorded_at for s in signals]
    assert recorded == sorted(recorded)


def test_fanout_reaches_only_installed_and_enabled_subscribers(engine: Any) -> None:
    def handlers_of(signal_id: str) -> list[str]:
        return sorted(d.handler for d in engine.deliveries() if d.signal_id == signal_id)

    first, _ = engine.emit("shop.order.placed", {"order": "1"})
    assert handlers_of(first.id) == ["shop:ledger", "shop:notify"]
    engine.install("mailer", status="failed")
    second, _ = engine.emit("shop.order.placed", {"order": "2"})
    assert handlers_of(second.id) == ["shop:ledger", "shop:notify"]
    engine.install("mailer")
    third, _ = engine.emit("shop.order.placed", {"order": "3"})
    assert handlers_of(third.id) == ["mailer:send", "shop:ledger", "shop:notify"]
    noted, _ = engine.emit("shop.order.noted", {})
    assert handlers_of(noted.id) == ["shop:ledger", "shop:notify"]
    other, _ = engine.emit("billing.invoice.paid", {})
    assert handlers_of(other.id) == []


def test_an_emit_inside_a_unit_of_work_rolls_back_with_it(engine: Any) -> None:
    with pytest.raises(RuntimeError), engine.db.tenant_session(engine.tenant) as session:
        emit_signal(
            session,
            engine.registry,
            engine.tenant,
            SignalInput(type="shop.order.placed", data={"order": "x"}, source="test"),
        )
        raise RuntimeError("the unit of work fails later")
    assert engine.count(SignalRow) == 0
    assert engine.count(DeliveryRow) == 0
    signal, _ = engine.emit("shop.order.noted", {}, actor=Actor.parse("user:olivia"))
    assert signal.seq == 1


@pytest.mark.parametrize("statement", ["UPDATE signals SET type = 'x.y'", "DELETE FROM signals"])
def test_the_database_refuses_to_rewrite_emitted_signals(engine: Any, statement: str) -> None:
    engine.emit("shop.order.noted", {"n": 1})
    with pytest.raises(exc.DBAPIError), engine.db.tenant_session(engine.tenant) as session:
        session.execute(text(statement))
    with engine.db.tenant_session(engine.tenant, readonly=True) as session:
        assert session.execute(select(SignalRow.type)).scalars().all() == ["shop.order.noted"]
