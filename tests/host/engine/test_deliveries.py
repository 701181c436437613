"""Signal deliveries: handlers run once per delivery, retry, die, and re-run on replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from fleetprompt_host.engine.leases import claim_delivery, claim_delivery_inline
from fleetprompt_host.engine.queries import SignalFilter
from fleetprompt_host.engine.replay import replay_signals
from fleetprompt_host.engine.runner import deliver_signal
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import DeliveryRow, DirectiveRow
from fleetprompt_sdk.errors import NotFoundError, PermissionDeniedError, UsageError


def _statuses(engine: Any) -> dict[str, str]:
    return {d.handler: d.status for d in engine.deliveries()}


def test_a_signal_is_delivered_once_to_each_subscribed_handler(engine: Any) -> None:
    signal, _ = engine.emit("shop.order.placed", {"order": "1"})
    report = engine.run_pending()
    assert sorted(o.status for o in report.outcomes) == ["done", "done"]
    assert sorted(engine.behaviour.delivered) == [
        ("ledger", 1, "shop.order.placed"),
        ("notify", 1, "shop.order.placed"),
    ]
    assert engine.behaviour.keys == [f"{signal.id}:shop:notify"]
    assert _statuses(engine) == {"shop:notify": "done", "shop:ledger": "done"}
    assert engine.run_pending().outcomes == []
    [execution, _] = sorted(engine.executions("delivery"), key=lambda e: e.summary["handler"])
    assert execution.causation_id == signal.id and execution.summary["handler"] == "shop:ledger"


def test_a_directive_requested_by_a_handler_carries_the_signals_correlation(
    engine: Any,
) -> None:
    engine.behaviour.notify_requests = True
    directive = engine.request()
    engine.run_pending()
    placed = next(s for s in engine.signals() if s.type == "shop.order.placed")
    with engine.db.tenant_session(engine.tenant, readonly=True) as session:
        follow = session.query(DirectiveRow).filter(DirectiveRow.type == "shop.noop").one()
    assert follow.causation_id == placed.id
    assert follow.correlation_id == directive.correlation_id == placed.correlation_id
    assert follow.actor == "system:package.shop" and follow.status == "succeeded"


def test_a_failing_handler_is_retried_then_marked_dead_and_stays_visible(engine: Any) -> None:
    engine.behaviour.notify_fails = True
    engine.emit("shop.order.placed", {"order": "1"})
    engine.run_pending()
    notify = next(d for d in engine.deliveries() if d.handler == "shop:notify")
    assert (notify.status, notify.attempts) == ("dead", engine.policy.delivery_max_attempts)
    assert notify.last_error == {
        "code": "handler-error",
        "message": "RuntimeError: notify failed on purpose",
    }
    assert _statuses(engine)["shop:ledger"] == "done"
    outcomes = [
        e.summary["outcome"]
        for e in engine.executions("delivery")
        if e.summary["handler"] == "shop:notify"
    ]
    assert outcomes == ["retry", "retry", "dead"]


def test_a_retried_delivery_does_not_commit_what_the_failed_run_requested(engine: Any) -> None:
    engine.behaviour.notify_requests = True
    engine.behaviour.notify_fails = True
    engine.emit("shop.order.placed", {"order": "1"})
    engine.run_pending()
    assert engine.count(DirectiveRow) == 0


def test_a_delivery_for_an_uninstalled_package_dies_at_once(engine: Any) -> None:
    engine.install("mailer")
    engine.emit("shop.order.placed", {"order": "1"})
    engine.install("mailer", status="disabled")
    engine.run_pending()
    mailer = next(d for d in engine.deliveries() if d.handler == "mailer:send")
    assert (mailer.status, mailer.attempts) == ("dead", 1)
    assert mailer.last_error["code"] == "handler-unavailable"


def test_a_stale_delivery_claim_commits_nothing(engine: Any) -> None:
    engine.behaviour.notify_requests = True
    engine.emit("shop.order.noted", {})
    notify = next(d for d in engine.deliveries() if d.handler == "shop:notify")
    stale = claim_delivery_inline(engine.db, engine.tenant, notify.id, owner="a")
    with engine.db.tenant_session(engine.tenant) as session:
        later = utcnow() + timedelta(hours=1)
        fresh = claim_delivery(session, notify.id, "b", now=later)
    outcome = deliver_signal(engine.db, engine.registry, engine.tenant, notify.id, stale)
    assert outcome.status == "superseded"
    assert engine.count(DirectiveRow) == 0
    done = deliver_signal(engine.db, engine.registry, engine.tenant, notify.id, fresh)
    assert done.status == "done" and engine.count(DirectiveRow) == 1


def _replay(engine: Any, flt: SignalFilter, **kw: Any) -> Any:
    kw.setdefault("actor", engine.owner)
    return replay_signals(engine.db, engine.registry, engine.tenant, flt, **kw)


def test_replay_creates_replay_deliveries_in_seq_order_and_re_drives_handlers(
    engine: Any,
) -> None:
    for n in range(3):
        engine.emit("shop.order.placed", {"order": str(n)})
    engine.emit("shop.order.noted", {})
    engine.run_pending()
    engine.behaviour.delivered.clear()
    plan = _replay(engine, SignalFilter(type_pattern="shop.order.placed"), handler="shop:notify")
    assert [(i.seq, i.handler) for i in plan.items] == [
        (1, "shop:notify"),
        (2, "shop:notify"),
        (3, "shop:notify"),
    ]
    replays = [d for d in engine.deliveries() if d.replay]
    assert [d.signal_seq for d in replays] == [1, 2, 3]
    engine.run_pending()
    assert engine.behaviour.delivered == [
        ("notify", 1, "shop.order.placed"),
        ("notify", 2, "shop.order.placed"),
        ("notify", 3, "shop.order.placed"),
    ]
    # A replayed handler sees the same idempotency key as on the first delivery.
    assert engine.behaviour.keys[4:] == engine.behaviour.keys[:3]
    [execution] = engine.executions("replay")
    assert execution.summary["deliveries"] == 3 and execution.actor == engine.owner


def test_a_replayed_handler_that_requests_a_directive_gets_the_same_directive(
    engine: Any,
) -> None:
    engine.behaviour.notify_requests = True
    signal, _ = engine.emit("shop.order.noted", {})
    engine.run_pending()
    _replay(engine, SignalFilter(ids=(signal.id,)))
    engine.run_pending()
    assert engine.count(DirectiveRow, DirectiveRow.type == "shop.noop") == 1
    assert engine.behaviour.runs == 1


def test_a_dry_run_replay_writes_nothing(engine: Any) -> None:
    engine.emit("shop.order.placed", {"order": "1"})
    before = engine.count(DeliveryRow)
    plan = _replay(engine, SignalFilter(type_pattern="shop.**"), dry_run=True)
    assert plan.dry_run and {i.handler for i in plan.items} == {"shop:notify", "shop:ledger"}
    assert engine.count(DeliveryRow) == before
    assert engine.executions("replay") == []


def test_replay_refuses_an_empty_selector_an_unknown_handler_and_a_member(engine: Any) -> None:
    engine.emit("shop.order.placed", {"order": "1"})
    with pytest.raises(UsageError) as empty:
        _replay(engine, SignalFilter())
    assert empty.value.code == "replay-needs-selector"
    with pytest.raises(NotFoundError) as unknown:
        _replay(engine, SignalFilter(type_pattern="shop.*.*"), handler="mailer:send")
    assert unknown.value.code == "handler-not-found"
    with pytest.raises(PermissionDeniedError):
        _replay(engine, SignalFilter(type_pattern="shop.*.*"), actor=engine.member)
    assert not any(d.replay for d in engine.deliveries())
    assert len(_replay(engine, SignalFilter(), allow_all=True, handler="shop").items) == 2
