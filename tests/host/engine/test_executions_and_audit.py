"""Execution records and the audit timeline tell the story of a run in order."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_host.engine.audit import timeline
from fleetprompt_host.engine.executions import (
    ExecutionLog,
    add_step,
    finish_execution,
    start_execution,
)
from fleetprompt_host.engine.history import find_execution
from fleetprompt_sdk.errors import InvalidInputError, NotFoundError, UsageError
from fleetprompt_sdk.models import Subject


def test_an_execution_recorded_step_by_step_keeps_order_timing_and_redacts_secrets(
    engine: Any,
) -> None:
    with engine.db.tenant_session(engine.tenant) as session:
        execution_id = start_execution(session, "chat", actor=engine.owner)
    with engine.db.tenant_session(engine.tenant) as session:
        first = add_step(
            session,
            execution_id,
            "llm_call",
            "gpt-test",
            input={"messages": [{"role": "user", "content": "hi"}], "api_key": "sk-123"},
            output={"text": "hello"},
            duration_ms=12.5,
            tokens_in=3,
            tokens_out=1,
            cost=0.0001,
        )
        second = add_step(
            session, execution_id, "tool_call", "shop__search", input={"q": "tea"}, output={}
        )
        finish_execution(session, execution_id, "succeeded", {"turns": 1})
    assert (first, second) == (1, 2)
    with engine.db.tenant_session(engine.tenant, readonly=True) as session:
        view = find_execution(session, execution_id[:10])
        data = view.to_json()
    assert data["status"] == "succeeded" and data["correlation_id"] == execution_id
    assert data["summary"] == {"turns": 1}
    llm, tool = data["steps"]
    assert llm["input"]["api_key"] == "***" and llm["tokens_in"] == 3 and llm["cost"] == 0.0001
    assert (llm["kind"], tool["kind"], tool["name"]) == ("llm_call", "tool_call", "shop__search")


def test_unknown_step_kinds_statuses_and_executions_are_refused(engine: Any) -> None:
    with pytest.raises(InvalidInputError) as kind:
        ExecutionLog("chat").step("coffee_break", "x")
    assert kind.value.code == "invalid-step-kind"
    with engine.db.tenant_session(engine.tenant) as session:
        execution_id = start_execution(session, "chat")
        with pytest.raises(InvalidInputError) as status:
            finish_execution(session, execution_id, "exploded")
        assert status.value.code == "invalid-execution-status"
        with pytest.raises(NotFoundError):
            finish_execution(session, "nope", "failed")


def test_the_audit_timeline_of_a_correlation_tells_the_story_in_order(engine: Any) -> None:
    engine.behaviour.notify_requests = True
    engine.behaviour.fail_times = 1
    directive = engine.request()
    engine.run_pending()
    with engine.db.tenant_session(engine.tenant, readonly=True) as session:
        entries = timeline(session, correlation_id=directive.correlation_id)
    times = [e.at for e in entries if e.kind != "step"]
    assert times == sorted(times)
    kinds = [(e.kind, e.title.split(":")[0]) for e in entries]
    story = [title for kind, title in kinds if kind in ("signal", "directive", "execution")]
    assert story[0] == "directive shop.order.place requested by user"
    assert "execution directive shop.order.place" in story  # the failed attempt
    signals = [e.detail["type"] for e in entries if e.kind == "signal"]
    assert signals.index("directive.requested") < signals.index("shop.order.placed")
    assert signals.index("shop.order.placed") < signals.index("directive.succeeded")
    # The retry, the delivery and the directive the handler requested are all there.
    executions = [e.detail for e in entries if e.kind == "execution"]
    assert [x["summary"].get("outcome") for x in executions if x["kind"] == "directive"][:2] == [
        "retry",
        "succeeded",
    ]
    assert any(x["kind"] == "delivery" for x in executions)
    assert any(e.kind == "directive" and e.detail["type"] == "shop.noop" for e in entries)
    # Each execution's steps come right after it.
    for index, entry in enumerate(entries):
        if entry.kind == "step":
            assert entries[index - 1].kind in ("execution", "step")


def test_the_audit_of_a_subject_follows_its_signals_correlations(engine: Any) -> None:
    engine.emit(
        "shop.order.noted", {"n": 1}, subject=Subject(type="order", id="7"), correlation_id="c-7"
    )
    engine.emit("shop.order.noted", {"n": 2}, correlation_id="c-7")
    engine.emit("shop.order.noted", {"n": 3}, correlation_id="c-other")
    with engine.db.tenant_session(engine.tenant, readonly=True) as session:
        entries = timeline(session, subject=Subject(type="order", id="7"))
        with pytest.raises(UsageError):
            timeline(session, correlation_id="c-7", subject=Subject(type="order", id="7"))
    assert [e.detail["data"]["n"] for e in entries if e.kind == "signal"] == [1, 2]


def test_the_audit_without_a_selector_is_the_tenants_latest_activity(engine: Any) -> None:
    for n in range(5):
        engine.emit("shop.order.noted", {"n": n}, correlation_id=f"c-{n}")
    with engine.db.tenant_session(engine.tenant, readonly=True) as session:
        everything = timeline(session)
        latest = timeline(session, limit=2)
    noted = [
        e.detail["data"]["n"] for e in everything if e.detail.get("type") == "shop.order.noted"
    ]
    assert noted == [0, 1, 2, 3, 4]
    assert [e.detail["data"]["n"] for e in latest] == [3, 4]
