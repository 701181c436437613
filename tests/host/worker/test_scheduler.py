"""The host work index and fair turns across tenants (both backends unless noted)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import psycopg.errors
import pytest
from sqlalchemy import delete, exc, select, text

from fleetprompt_host.engine import scheduler
from fleetprompt_host.engine.claims import ClaimedWork, claim_batch
from fleetprompt_host.engine.worker import Worker, WorkerOptions, engine_executor
from fleetprompt_host.engine.worker_options import FAST_TURN_SECONDS, BatchSizes
from fleetprompt_host.storage import Database, utcnow
from fleetprompt_host.storage.models import TenantWorkRow

if TYPE_CHECKING:
    from conftest import Lab

LEASE = timedelta(seconds=30)


def _index(db: Database) -> dict[str, Any]:
    with db.host_session() as session:
        return {row.slug: row for row in session.execute(select(TenantWorkRow)).scalars()}


def test_requesting_work_marks_its_tenant_due_in_the_host_index(lab: Lab) -> None:
    assert scheduler.pick(lab.db) is None
    lab.request("fpwork.noop", [{}])

    turn = scheduler.pick(lab.db)

    assert turn is not None and turn.tenant == "acme"
    assert turn.due_at <= utcnow()


def test_a_tenant_with_no_work_left_leaves_the_index(lab: Lab) -> None:
    lab.request("fpwork.noop", [{}])
    turn = scheduler.pick(lab.db)
    assert turn is not None
    batch = claim_batch(lab.db, "acme", "w1", limit=10, lease=LEASE)
    scheduler.settle(lab.db, turn, batch.next_due)

    # The claimed directive is due again only if its lease expires.
    assert _index(lab.db)["acme"].due_at == batch.items[0].lease_expires_at
    assert scheduler.pick(lab.db) is None

    scheduler.settle(lab.db, turn, None)
    assert "acme" not in _index(lab.db)


def test_a_mark_made_after_the_pick_is_never_filed_away(lab: Lab) -> None:
    lab.request("fpwork.noop", [{}])
    turn = scheduler.pick(lab.db)
    assert turn is not None
    claim_batch(lab.db, "acme", "w1", limit=10, lease=LEASE)
    lab.request("fpwork.noop", [{"late": True}])  # after the claim, before the settle

    scheduler.settle(lab.db, turn, None)  # the claim saw no other work: it would remove

    entry = _index(lab.db)["acme"]
    assert entry.due_at <= utcnow() and entry.generation > turn.generation
    again = scheduler.pick(lab.db)
    assert again is not None and again.tenant == "acme"


def test_turns_go_to_the_least_recently_served_tenant(lab: Lab) -> None:
    for slug in ("beta", "gamma"):
        lab.add_tenant(slug)
    for slug in ("acme", "beta", "gamma"):
        lab.request("fpwork.noop", [{"i": i} for i in range(3)], tenant=slug)

    picked = []
    for _ in range(6):
        turn = scheduler.pick(lab.db)
        assert turn is not None
        picked.append(turn.tenant)

    assert sorted(picked[:3]) == ["acme", "beta", "gamma"]
    assert picked[3:] == picked[:3]


def test_the_tenant_filter_limits_turns_and_wake_ups(lab: Lab) -> None:
    lab.add_tenant("beta")
    lab.request("fpwork.noop", [{}], tenant="beta")

    assert scheduler.pick(lab.db, ["acme"]) is None
    assert scheduler.next_wakeup(lab.db, ["acme"]) is None
    assert scheduler.next_wakeup(lab.db, ["beta"]) is not None
    turn = scheduler.pick(lab.db, ["acme", "beta"])
    assert turn is not None and turn.tenant == "beta"


def test_reconcile_rebuilds_a_lost_index_from_the_tenants(lab: Lab) -> None:
    lab.add_tenant("beta")
    lab.request("fpwork.noop", [{}])
    with lab.db.host_session() as session:
        session.execute(delete(TenantWorkRow))

    assert scheduler.reconcile(lab.db) == 1

    assert set(_index(lab.db)) == {"acme"}


def test_a_deleted_tenant_is_dropped_from_the_index_by_the_worker(lab: Lab) -> None:
    lab.add_tenant("beta")
    lab.request("fpwork.noop", [{}], tenant="beta")
    lab.db.delete_tenant("beta")
    seen: list[ClaimedWork] = []

    stats = _run(lab.url, lambda db, item: seen.append(item) or "done", until_idle=True)

    assert stats.total() == 0 and seen == []
    assert "beta" not in _index(lab.db)


def test_a_tenant_role_may_mark_only_its_own_tenant(pg_lab: Lab) -> None:
    pg_lab.add_tenant("beta")
    with (
        pytest.raises(exc.ProgrammingError) as info,
        pg_lab.db.tenant_session("acme") as session,
    ):
        session.execute(
            text("SELECT fleetprompt_work.mark_due('beta', now())"),
        )
    assert isinstance(info.value.orig, psycopg.errors.InsufficientPrivilege)
    assert "beta" not in _index(pg_lab.db)


def test_a_rolled_back_request_leaves_no_mark_on_postgresql(pg_lab: Lab) -> None:
    with pytest.raises(RuntimeError), pg_lab.db.tenant_session("acme") as session:
        scheduler.mark_due(session, "acme")
        raise RuntimeError("the unit of work fails")

    assert _index(pg_lab.db) == {}


def _run(url: str, executor: Callable[..., Any], **options: Any) -> Any:
    worker = Worker(url, WorkerOptions(**options), executor)
    return worker.run(handle_signals=False)


def test_a_large_backlog_delays_a_small_tenant_by_at_most_one_batch(lab: Lab) -> None:
    lab.add_tenant("bulk")
    lab.request("fpwork.noop", [{"i": i} for i in range(40)], tenant="bulk")
    lab.request("fpwork.noop", [{"small": True}])
    order: list[str] = []
    run = engine_executor(lab.registry)

    def recording(db: Database, item: ClaimedWork) -> str | None:
        order.append(item.tenant)
        return run(db, item)

    _run(lab.url, recording, until_idle=True, batch_size=5, idle_horizon_seconds=0)

    assert len(order) == 41
    assert order.index("acme") <= 5, order[:12]


def test_work_requested_during_a_backlog_waits_a_bounded_number_of_batches(
    lab: Lab, wait_until: Callable[..., Any]
) -> None:
    batch = 4
    lab.add_tenant("bulk")
    lab.request("fpwork.noop", [{"i": i} for i in range(120)], tenant="bulk")
    order: list[str] = []
    run = engine_executor(lab.registry)

    def recording(db: Database, item: ClaimedWork) -> str | None:
        order.append(item.tenant)
        return run(db, item)

    # Fixed batches: this checks the turns themselves (short work's batches grow, see below).
    options = WorkerOptions(batch_size=batch, max_batch=batch, poll_seconds=0.05)
    worker = Worker(lab.url, options, recording)
    thread = threading.Thread(target=worker.run, kwargs={"handle_signals": False})
    thread.start()
    try:
        wait_until(lambda: len(order) >= 2 * batch, what="the backlog to be under way")
        lab.request("fpwork.noop", [{"small": True}])
        served_before = len(order)
        wait_until(lambda: "acme" in order, what="the small tenant's directive")
    finally:
        worker.stop()
        thread.join(30)

    bulk_in_between = order.index("acme") - served_before
    # The batch in progress, then at most one more turn of the other tenant.
    assert bulk_in_between <= 2 * batch, bulk_in_between
    assert order.count("bulk") < 120, "the small tenant did not wait for the whole backlog"


def test_batches_of_short_work_grow_to_the_maximum_and_a_slow_turn_halves_them() -> None:
    sizes = BatchSizes(4, 20)
    grown = []
    for _ in range(4):
        limit = sizes.get("acme")
        sizes.record("acme", limit, limit, seconds=0.01)
        grown.append(sizes.get("acme"))
    assert grown == [8, 16, 20, 20]
    assert sizes.get("other") == 4, "each tenant has its own size"
    # A batch that was not full says nothing about the backlog: the size stays.
    sizes.record("acme", 20, 3, seconds=0.01)
    assert sizes.get("acme") == 20
    sizes.record("acme", 20, 20, seconds=FAST_TURN_SECONDS)
    assert sizes.get("acme") == 10
    sizes.record("acme", 10, 10, seconds=FAST_TURN_SECONDS * 2)
    assert sizes.get("acme") == 5
    sizes.record("acme", 5, 5, seconds=FAST_TURN_SECONDS * 2)
    assert sizes.get("acme") == 4, "back to the default batch"
