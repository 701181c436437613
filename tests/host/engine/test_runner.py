"""The runner: exactly-once effects, fencing, retries, cancel, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from fleetprompt_host.engine.directives import cancel_directive
from fleetprompt_host.engine.inline import run_directive_now
from fleetprompt_host.engine.leases import (
    DEFAULT_LEASE_SECONDS,
    claim_directive,
    claim_directive_inline,
)
from fleetprompt_host.engine.retry import RetryPolicy
from fleetprompt_host.engine.runner import run_directive
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import ExecutionStepRow, RecordRow, SignalRow
from fleetprompt_sdk.errors import InvalidInputError

PLACED = SignalRow.type == "shop.order.placed"


def _expire_and_claim(engine: Any, directive_id: str, owner: str, leases: int = 1) -> Any:
    """Claim as another worker would once ``leases`` leases have expired."""
    later = utcnow() + leases * timedelta(seconds=DEFAULT_LEASE_SECONDS + 1)
    with engine.db.tenant_session(engine.tenant) as session:
        return claim_directive(session, directive_id, owner, now=later)


def test_a_successful_run_commits_effects_status_lifecycle_and_execution_together(
    engine: Any,
) -> None:
    directive = engine.request(params={"item": "tea"})
    outcome = run_directive_now(engine.db, engine.registry, engine.tenant, directive.id)
    assert outcome is not None and outcome.status == "succeeded" and outcome.committed
    row = engine.directive(directive.id)
    assert (row.status, row.attempts, row.lease_owner) == ("succeeded", 1, None)
    assert row.result == {"order": f"order-{directive.id[:8]}"}
    assert engine.count(RecordRow) == 1
    assert engine.signal_types() == [
        "directive.requested",
        "shop.order.placed",
        "directive.started",
        "directive.succeeded",
    ]
    placed = engine.signals()[1]
    assert placed.correlation_id == directive.correlation_id
    assert placed.causation_id == directive.id and placed.source == "shop"
    [execution] = engine.executions("directive")
    assert execution.id == outcome.execution_id
    assert (execution.status, execution.correlation_id) == ("succeeded", directive.correlation_id)
    with engine.db.tenant_session(engine.tenant, readonly=True) as session:
        steps = session.query(ExecutionStepRow).order_by(ExecutionStepRow.seq).all()
        assert [(s.kind, s.name) for s in steps] == [
            ("directive_run", "shop.order.place"),
            ("signal_emitted", "shop.order.placed"),
        ]
        assert steps[0].input == {"params": {"item": "tea"}, "attempt": 1}
        assert steps[1].output["seq"] == 2


def test_a_failing_handler_commits_nothing_and_a_retry_commits_exactly_once(
    engine: Any,
) -> None:
    engine.behaviour.fail_times = 1
    directive = engine.request()
    first = run_directive_now(
        engine.db, engine.registry, engine.tenant, directive.id, policy=RetryPolicy(base_seconds=30)
    )
    assert first is not None and first.status == "retry"
    assert first.error == {
        "code": "handler-error",
        "message": "RuntimeError: the shop handler failed on purpose (transient)",
    }
    row = engine.directive(directive.id)
    assert (row.status, row.attempts) == ("requested", 1)
    assert row.run_after >= utcnow() + timedelta(seconds=25)
    assert engine.count(RecordRow) == 0
    assert engine.count(SignalRow, PLACED) == 0
    assert engine.signal_types() == ["directive.requested", "directive.started"]
    # Not due yet: nothing runs before the backoff has passed.
    assert engine.run_pending().outcomes == []
    with engine.db.tenant_session(engine.tenant) as session:
        assert claim_directive(session, directive.id, "w", now=row.run_after) is not None
    second = run_directive(
        engine.db, engine.registry, engine.tenant, directive.id, _claim_of(engine, directive.id)
    )
    assert second.status == "succeeded"
    assert engine.count(RecordRow) == 1
    assert engine.count(SignalRow, PLACED) == 1
    failed, succeeded = engine.executions("directive")
    assert (failed.summary["outcome"], succeeded.summary["outcome"]) == ("retry", "succeeded")


def _claim_of(engine: Any, directive_id: str) -> Any:
    from fleetprompt_host.engine.leases import Claim

    row = engine.directive(directive_id)
    return Claim(row.lease_owner, row.fencing_token)


def test_retries_back_off_exponentially_until_the_directive_fails(engine: Any) -> None:
    policy = RetryPolicy(base_seconds=2, factor=3, cap_seconds=10)
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 4)] == [2, 6, 10, 10]
    engine.behaviour.always_fail = True
    directive = engine.request(max_attempts=3)
    report = engine.run_pending()
    assert [o.status for o in report.outcomes] == ["retry", "retry", "failed"]
    row = engine.directive(directive.id)
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.error == {
        "code": "handler-error",
        "message": "RuntimeError: the shop handler failed on purpose",
    }
    types = engine.signal_types()
    assert types.count("directive.started") == 3
    assert types.count("directive.failed") == 1 and types[-1] == "directive.failed"
    assert engine.count(RecordRow) == 0
    assert [e.summary["outcome"] for e in engine.executions("directive")] == [
        "retry",
        "retry",
        "failed",
    ]


def test_an_input_error_raised_by_a_handler_is_not_retried(engine: Any) -> None:
    def refuse(ctx: Any, directive: Any) -> None:
        raise InvalidInputError("no such item in the catalogue", code="unknown-item")

    engine.behaviour.hook = refuse
    directive = engine.request()
    assert [o.status for o in engine.run_pending().outcomes] == ["failed"]
    assert engine.directive(directive.id).error == {
        "code": "unknown-item",
        "message": "no such item in the catalogue",
    }


@pytest.mark.parametrize(
    ("result", "message"),
    [(["a"], "returned list"), ({"password": "x"}, "looks like a secret")],
)
def test_a_result_that_is_not_a_safe_json_object_fails_the_directive(
    engine: Any, result: Any, message: str
) -> None:
    engine.behaviour.result = result
    directive = engine.request()
    engine.run_pending()
    row = engine.directive(directive.id)
    assert row.status == "failed" and row.error["code"] == "directive-result-invalid"
    assert message in row.error["message"]
    assert engine.count(RecordRow) == 0


def test_a_stale_fencing_token_commits_nothing_and_is_recorded_as_superseded(
    engine: Any,
) -> None:
    directive = engine.request()
    stale = claim_directive_inline(engine.db, engine.tenant, directive.id, owner="worker-a")
    fresh = _expire_and_claim(engine, directive.id, "worker-b")
    assert (stale.fencing_token, fresh.fencing_token) == (1, 2)
    outcome = run_directive(engine.db, engine.registry, engine.tenant, directive.id, stale)
    assert outcome.status == "superseded" and not outcome.committed
    assert "token 1 held by worker-a is stale" in outcome.error["message"]
    assert engine.count(RecordRow) == 0 and engine.behaviour.runs == 0
    assert engine.directive(directive.id).status == "running"
    done = run_directive(engine.db, engine.registry, engine.tenant, directive.id, fresh)
    assert done.status == "succeeded"
    assert engine.count(RecordRow) == 1 and engine.count(SignalRow, PLACED) == 1
    outcomes = [(e.status, e.summary["outcome"]) for e in engine.executions("directive")]
    assert outcomes == [("failed", "superseded"), ("succeeded", "succeeded")]


def test_a_worker_overtaken_while_its_handler_runs_commits_nothing(
    engine: Any, db_backend: str
) -> None:
    if db_backend == "sqlite":
        pytest.skip("SQLite has one writer: nobody can claim while a run holds the lock")
    taken: list[Any] = []

    def overtake(ctx: Any, directive: Any) -> None:
        # Another worker, in its own transaction, claims after the lease "expired".
        thread = threading.Thread(
            target=lambda: taken.append(_expire_and_claim(engine, directive.id, "worker-b"))
        )
        thread.start()
        thread.join()
        assert ctx.cancel_requested

    engine.behaviour.hook = overtake
    directive = engine.request()
    outcome = run_directive_now(engine.db, engine.registry, engine.tenant, directive.id)
    assert outcome is not None and outcome.status == "superseded"
    assert taken[0].fencing_token == 2
    assert engine.count(RecordRow) == 0 and engine.count(SignalRow, PLACED) == 0
    engine.behaviour.hook = None
    finish = run_directive(engine.db, engine.registry, engine.tenant, directive.id, taken[0])
    assert finish.status == "succeeded"
    assert engine.count(RecordRow) == 1 and engine.count(SignalRow, PLACED) == 1


def test_canceling_a_running_directive_stops_it_from_committing(
    engine: Any, db_backend: str
) -> None:
    if db_backend == "sqlite":
        pytest.skip("SQLite has one writer: a cancel waits until the run commits")
    seen: list[bool] = []

    def cancel_midway(ctx: Any, directive: Any) -> None:
        seen.append(ctx.cancel_requested)

        def cancel() -> None:
            with engine.db.tenant_session(engine.tenant) as session:
                cancel_directive(
                    session, engine.registry, engine.tenant, directive.id, engine.owner
                )

        thread = threading.Thread(target=cancel)
        thread.start()
        thread.join()
        seen.append(ctx.cancel_requested)

    engine.behaviour.hook = cancel_midway
    engine.behaviour.fail_times = 0
    directive = engine.request(params={"item": "slow tea"})
    # The handler emits before the hook; emit is deferred to keep the counter free, so
    # the cancel does not wait for this run.
    outcome = run_directive_now(engine.db, engine.registry, engine.tenant, directive.id)
    assert seen == [False, True]
    assert outcome is not None and outcome.status == "canceled"
    assert engine.directive(directive.id).status == "canceled"
    assert engine.count(RecordRow) == 0 and engine.count(SignalRow, PLACED) == 0
    assert engine.executions("directive")[-1].status == "canceled"


@pytest.mark.parametrize(
    ("lost_attempts", "status", "runs"), [(1, "succeeded", 1), (0, "failed", 0)]
)
def test_claims_lost_with_their_worker_are_tolerated_up_to_a_bound(
    engine: Any, lost_attempts: int, status: str, runs: int
) -> None:
    directive = engine.request(max_attempts=2)
    for n, owner in enumerate(("w1", "w2", "w3"), start=1):
        claim = _expire_and_claim(engine, directive.id, owner, leases=n)
    policy = RetryPolicy(lost_attempts=lost_attempts)
    outcome = run_directive(
        engine.db, engine.registry, engine.tenant, directive.id, claim, policy=policy
    )
    assert outcome.status == status and engine.behaviour.runs == runs
    if status == "failed":
        assert outcome.error["code"] == "attempts-exhausted"
    assert engine.directive(directive.id).status == status
