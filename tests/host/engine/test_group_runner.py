"""Group commit: several claimed directives run in one transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from fleetprompt_host.engine.claims import ClaimedWork, renew
from fleetprompt_host.engine.directives import cancel_directive
from fleetprompt_host.engine.group_runner import run_directive_group
from fleetprompt_host.engine.leases import Claim, claim_directive
from fleetprompt_host.engine.retry import RetryPolicy
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import (
    DirectiveRow,
    ExecutionRow,
    ExecutionStepRow,
    RecordRow,
    SignalRow,
)
from fleetprompt_sdk.models import Directive

OWNER = "worker-a"
LEASE = timedelta(seconds=30)


def _claim_all(engine: Any, items: list[str]) -> list[tuple[str, Claim]]:
    claimed = []
    for item in items:
        directive = engine.request(params={"item": item})
        with engine.db.tenant_session(engine.tenant) as session:
            claim = claim_directive(session, directive.id, OWNER)
        assert claim is not None
        claimed.append((directive.id, claim))
    return claimed


def _run_until_done(engine: Any, claimed: list[tuple[str, Claim]], **kw: Any) -> list[Any]:
    """Run groups as a worker does, each from the first directive not run yet."""
    outcomes: list[Any] = []
    while len(outcomes) < len(claimed):
        more = run_directive_group(
            engine.db, engine.registry, engine.tenant, claimed[len(outcomes) :], **kw
        )
        assert more, "a group runs at least one directive"
        outcomes += more
    return outcomes


def test_a_group_commits_every_directive_with_its_records_signals_and_execution(
    engine: Any,
) -> None:
    claimed = _claim_all(engine, ["tea", "coffee", "cake", "jam"])
    outcomes = run_directive_group(engine.db, engine.registry, engine.tenant, claimed)
    assert [o.status for o in outcomes] == ["succeeded"] * 4
    assert [o.id for o in outcomes] == [d for d, _ in claimed]
    for directive_id, _ in claimed:
        row = engine.directive(directive_id)
        assert (row.status, row.attempts, row.lease_owner) == ("succeeded", 1, None)
        assert row.result == {"order": f"order-{directive_id[:8]}"}
    assert engine.count(RecordRow) == 4
    signals = engine.signals()
    assert [s.seq for s in signals] == list(range(1, len(signals) + 1))
    per_directive = Counter(
        (s.type, s.subject_id if s.type.startswith("directive.") else s.causation_id)
        for s in signals
    )
    for directive_id, _ in claimed:
        for kind in ("directive.requested", "directive.started", "directive.succeeded"):
            assert per_directive[(kind, directive_id)] == 1
        assert per_directive[("shop.order.placed", directive_id)] == 1
    executions = engine.executions("directive")
    assert sorted(e.id for e in executions) == sorted(o.execution_id for o in outcomes)
    assert {e.status for e in executions} == {"succeeded"}
    assert {e.causation_id for e in executions} == {d for d, _ in claimed}


def test_a_failing_handler_keeps_the_directives_before_it_and_records_its_failure(
    engine: Any,
) -> None:
    def hook(ctx: Any, directive: Directive) -> None:
        if directive.params["item"] == "bad":
            raise RuntimeError("bad item")

    engine.behaviour.hook = hook
    claimed = _claim_all(engine, ["tea", "coffee", "bad", "jam"])
    outcomes = run_directive_group(
        engine.db, engine.registry, engine.tenant, claimed, policy=RetryPolicy(base_seconds=30)
    )
    assert [o.status for o in outcomes] == ["succeeded", "succeeded", "retry"]
    assert outcomes[2].error == {"code": "handler-error", "message": "RuntimeError: bad item"}
    statuses = [engine.directive(d).status for d, _ in claimed]
    assert statuses == ["succeeded", "succeeded", "requested", "running"]
    # Only the committed directives left records and signals behind.
    assert engine.count(RecordRow) == 2
    placed = engine.count(SignalRow, SignalRow.type == "shop.order.placed")
    assert placed == 2
    failed = engine.directive(claimed[2][0])
    assert failed.error == {"code": "handler-error", "message": "RuntimeError: bad item"}
    # The last one is still claimed by us: it runs in the next group.
    [rest] = run_directive_group(engine.db, engine.registry, engine.tenant, claimed[3:])
    assert rest.status == "succeeded" and engine.count(RecordRow) == 3


def test_a_directive_canceled_after_its_claim_is_recorded_canceled_and_never_run(
    engine: Any,
) -> None:
    claimed = _claim_all(engine, ["tea", "coffee", "cake"])
    with engine.db.tenant_session(engine.tenant) as session:
        cancel_directive(session, engine.registry, engine.tenant, claimed[1][0], engine.owner)
    engine.behaviour.runs = 0
    outcomes = _run_until_done(engine, claimed)
    assert [o.status for o in outcomes] == ["succeeded", "canceled", "succeeded"]
    assert engine.behaviour.runs == 2
    assert [engine.directive(d).status for d, _ in claimed] == [
        "succeeded",
        "canceled",
        "succeeded",
    ]
    assert engine.count(RecordRow) == 2


def test_a_group_stops_growing_when_its_window_closes(engine: Any) -> None:
    claimed = _claim_all(engine, ["tea", "coffee", "cake"])
    outcomes = run_directive_group(
        engine.db, engine.registry, engine.tenant, claimed, keep_going=lambda: False
    )
    assert [(o.id, o.status) for o in outcomes] == [(claimed[0][0], "succeeded")]
    assert engine.directive(claimed[1][0]).status == "running"


def test_a_handler_that_requests_a_directive_ends_its_group(engine: Any) -> None:
    def hook(ctx: Any, directive: Directive) -> None:
        if directive.params["item"] == "tea":
            ctx.request_directive("shop.noop", {})

    engine.behaviour.hook = hook
    claimed = _claim_all(engine, ["tea", "coffee", "cake"])
    first = run_directive_group(engine.db, engine.registry, engine.tenant, claimed)
    assert [o.status for o in first] == ["succeeded"]
    rest = run_directive_group(engine.db, engine.registry, engine.tenant, claimed[1:])
    assert [o.status for o in rest] == ["succeeded", "succeeded"]
    assert engine.count(DirectiveRow, DirectiveRow.type == "shop.noop") == 1


def test_a_directive_that_vanished_is_reported_and_the_others_still_run(engine: Any) -> None:
    claimed = _claim_all(engine, ["tea", "coffee"])
    with engine.db.tenant_session(engine.tenant) as session:
        session.execute(text("DELETE FROM directives WHERE id = :id"), {"id": claimed[0][0]})
    outcomes = _run_until_done(engine, claimed)
    assert isinstance(outcomes[0], Exception)
    assert getattr(outcomes[0], "code", None) == "directive-not-found"
    assert outcomes[1].status == "succeeded"


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
def test_renewing_skips_a_row_locked_by_a_finishing_group_and_counts_it_held(
    engine: Any,
) -> None:
    [(directive_id, claim)] = _claim_all(engine, ["tea"])
    item = ClaimedWork("directive", engine.tenant, directive_id, claim, 1, utcnow())
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        with engine.db.tenant_session(engine.tenant) as session:
            session.execute(
                select(DirectiveRow.id).where(DirectiveRow.id == directive_id).with_for_update()
            )
            locked.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(30)
        with ThreadPoolExecutor(1) as pool:
            renewing = pool.submit(renew, engine.db, engine.tenant, [item], LEASE)
            # While the row stays locked: renewing must not wait for the holder.
            assert renewing.result(timeout=20) == []
    finally:
        release.set()
        holder.join(30)
    with engine.db.tenant_session(engine.tenant) as session:
        session.execute(text("UPDATE directives SET fencing_token = fencing_token + 1"))
    assert renew(engine.db, engine.tenant, [item], LEASE) == [item]


def test_every_execution_of_a_group_is_its_own_record(engine: Any) -> None:
    claimed = _claim_all(engine, ["tea", "coffee"])
    run_directive_group(engine.db, engine.registry, engine.tenant, claimed)
    with engine.db.tenant_session(engine.tenant, readonly=True) as session:
        rows = session.execute(select(ExecutionRow).order_by(ExecutionRow.started_at)).scalars()
        summaries = [r.summary for r in rows]
    assert [s["directive_id"] for s in summaries] == [d for d, _ in claimed]
    assert all(s["outcome"] == "succeeded" and s["attempt"] == 1 for s in summaries)


def test_a_group_records_the_same_steps_as_a_run_on_its_own(engine: Any) -> None:
    [alone] = _claim_all(engine, ["tea"])
    run_directive_group(engine.db, engine.registry, engine.tenant, [alone])
    together = _claim_all(engine, ["coffee", "cake"])
    run_directive_group(engine.db, engine.registry, engine.tenant, together)

    def steps_of(directive_id: str) -> list[tuple[Any, ...]]:
        with engine.db.tenant_session(engine.tenant, readonly=True) as session:
            execution = session.execute(
                select(ExecutionRow).where(ExecutionRow.causation_id == directive_id)
            ).scalar_one()
            rows = session.execute(
                select(ExecutionStepRow)
                .where(ExecutionStepRow.execution_id == execution.id)
                .order_by(ExecutionStepRow.seq)
            ).scalars()
            return [
                (s.seq, s.kind, s.name, s.input, s.output, s.error, s.duration_ms is not None)
                for s in rows
            ]

    def normalised(directive_id: str) -> list[tuple[Any, ...]]:
        # The ids and the order keys differ per directive; everything else must match.
        out = []
        for seq, kind, name, input_, output, error, timed in steps_of(directive_id):
            if kind == "signal_emitted":
                output = {k: v for k, v in output.items() if k not in ("signal_id", "seq")}
                input_ = {**input_, "dedupe_key": "..."}
            if kind == "directive_run":
                input_ = {**input_, "params": {}}
                output = {"order": "..."} if output else output
            out.append((seq, kind, name, input_, output, error, timed))
        return out

    expected = normalised(alone[0])
    assert expected[0][1] == "directive_run" and expected[0][5] is None
    for directive_id, _ in together:
        assert normalised(directive_id) == expected
