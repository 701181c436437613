"""Batch claims: leases, fencing tokens, expiry, renewal and release (both backends)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, update

from fleetprompt_host.engine.claims import claim_batch, next_due, release, renew
from fleetprompt_host.engine.runner import run_directive
from fleetprompt_host.engine.signals import SignalInput, emit_signal
from fleetprompt_host.storage import utcnow
from fleetprompt_host.storage.models import DeliveryRow, DirectiveRow

if TYPE_CHECKING:
    from conftest import Lab

LEASE = timedelta(seconds=30)


def _expire_leases(lab: Lab) -> None:
    """Move every lease into the past, as if its worker had stopped long ago."""
    past = utcnow() - timedelta(seconds=1)
    with lab.db.tenant_session(lab.tenant) as session:
        session.execute(update(DirectiveRow).values(lease_expires_at=past))
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.lease_owner.is_not(None))
            .values(lease_expires_at=past, next_attempt_at=past)
        )


def test_claim_sets_lease_token_and_attempt_and_respects_the_limit(lab: Lab) -> None:
    lab.request("fpwork.noop", [{"i": i} for i in range(5)])

    batch = claim_batch(lab.db, lab.tenant, "w1", limit=3, lease=LEASE)

    assert len(batch.items) == 3
    rows = {r.id: r for r in lab.directives("fpwork.noop")}
    for item in batch.items:
        row = rows[item.id]
        assert (row.status, row.lease_owner, row.attempts) == ("running", "w1", 1)
        assert row.fencing_token == item.claim.fencing_token == 1
        assert row.lease_expires_at == item.lease_expires_at
    assert sorted(r.status for r in rows.values()).count("requested") == 2
    # Two are still requested and due: the tenant's next due time is now, not the lease.
    assert batch.next_due is not None and batch.next_due <= utcnow()


def test_work_scheduled_later_is_not_claimed_and_sets_the_next_due_time(lab: Lab) -> None:
    later = utcnow() + timedelta(hours=1)
    with lab.db.tenant_session(lab.tenant) as session:
        from fleetprompt_host.engine.directives import DirectiveRequest, request_directive

        request_directive(
            session,
            lab.registry,
            lab.tenant,
            DirectiveRequest("fpwork.noop", {}, actor="system:tests", run_after=later),
        )

    batch = claim_batch(lab.db, lab.tenant, "w1", limit=10, lease=LEASE)

    assert batch.items == ()
    assert batch.next_due == later


def test_an_expired_lease_is_claimed_again_and_the_stale_claim_cannot_commit(lab: Lab) -> None:
    lab.request("fpwork.item.write", [{"n": 1}])
    first = claim_batch(lab.db, lab.tenant, "w1", limit=1, lease=LEASE).items[0]
    assert claim_batch(lab.db, lab.tenant, "w2", limit=1, lease=LEASE).items == ()

    _expire_leases(lab)
    second = claim_batch(lab.db, lab.tenant, "w2", limit=1, lease=LEASE).items[0]

    assert second.id == first.id
    assert second.claim.fencing_token == first.claim.fencing_token + 1
    assert second.attempts == 2
    stale = run_directive(lab.db, lab.registry, lab.tenant, first.id, first.claim)
    assert stale.status == "superseded"
    fresh = run_directive(lab.db, lab.registry, lab.tenant, second.id, second.claim)
    assert fresh.status == "succeeded", fresh.error
    assert lab.item_numbers() == [1]


def test_renewal_extends_held_leases_and_reports_lost_ones(lab: Lab) -> None:
    lab.request("fpwork.noop", [{"i": i} for i in range(2)])
    items = claim_batch(lab.db, lab.tenant, "w1", limit=2, lease=timedelta(seconds=5)).items

    assert renew(lab.db, lab.tenant, items, timedelta(minutes=10)) == []
    rows = lab.directives("fpwork.noop")
    assert all(r.lease_expires_at > utcnow() + timedelta(minutes=9) for r in rows)

    _expire_leases(lab)
    taken = claim_batch(lab.db, lab.tenant, "w2", limit=1, lease=LEASE).items[0]
    lost = renew(lab.db, lab.tenant, items, LEASE)
    assert [i.id for i in lost] == [taken.id]


def test_release_gives_work_back_uncounted_and_fences_the_old_claim(lab: Lab) -> None:
    lab.request("fpwork.item.write", [{"n": 7}])
    item = claim_batch(lab.db, lab.tenant, "w1", limit=1, lease=LEASE).items[0]

    assert release(lab.db, lab.tenant, [item]) == 1

    (row,) = lab.directives("fpwork.item.write")
    assert (row.status, row.lease_owner, row.lease_expires_at, row.attempts) == (
        "requested",
        None,
        None,
        0,
    )
    assert row.fencing_token == item.claim.fencing_token + 1
    assert run_directive(lab.db, lab.registry, lab.tenant, item.id, item.claim).status == (
        "superseded"
    )
    assert release(lab.db, lab.tenant, [item]) == 0, "work no longer held is left alone"
    again = claim_batch(lab.db, lab.tenant, "w2", limit=1, lease=LEASE).items[0]
    assert again.attempts == 1


def test_a_claimed_delivery_falls_due_again_when_its_lease_expires(lab: Lab) -> None:
    with lab.db.tenant_session(lab.tenant) as session:
        emit_signal(
            session,
            lab.registry,
            lab.tenant,
            SignalInput(type="fpwork.item.processed", data={"n": 1}, source="tests"),
        )
    (item,) = claim_batch(lab.db, lab.tenant, "w1", limit=5, lease=LEASE).items
    assert item.kind == "delivery" and item.label == "fpwork:on_processed"

    with lab.db.tenant_session(lab.tenant) as session:
        assert next_due(session) == item.lease_expires_at
    assert claim_batch(lab.db, lab.tenant, "w2", limit=5, lease=LEASE).items == ()

    _expire_leases(lab)
    (again,) = claim_batch(lab.db, lab.tenant, "w2", limit=5, lease=LEASE).items
    assert again.id == item.id and again.claim.fencing_token == item.claim.fencing_token + 1


def test_directives_and_deliveries_share_a_batch(lab: Lab) -> None:
    lab.request("fpwork.noop", [{"i": i} for i in range(6)])
    with lab.db.tenant_session(lab.tenant) as session:
        for n in range(6):
            emit_signal(
                session,
                lab.registry,
                lab.tenant,
                SignalInput(type="fpwork.item.processed", data={"n": n}, source="tests"),
            )

    kinds = [i.kind for i in claim_batch(lab.db, lab.tenant, "w1", limit=4, lease=LEASE).items]

    assert sorted(kinds) == ["delivery", "delivery", "directive", "directive"]


def test_concurrent_claimers_take_disjoint_rows_without_waiting(pg_lab: Lab) -> None:
    lab = pg_lab
    lab.request("fpwork.noop", [{"i": i} for i in range(60)])
    taken: list[list[str]] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def claimer(name: str) -> None:
        start.wait()
        while True:
            items = claim_batch(lab.db, lab.tenant, name, limit=3, lease=LEASE).items
            if not items:
                return
            with lock:
                taken.append([str(i.id) for i in items])

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    ids = [i for batch in taken for i in batch]
    assert len(ids) == 60 and len(set(ids)) == 60
    with lab.db.tenant_session(lab.tenant) as session:
        tokens = session.execute(select(DirectiveRow.fencing_token)).scalars().all()
    assert set(tokens) == {1}


@pytest.mark.parametrize("limit", [0, -1])
def test_a_claim_needs_a_positive_limit(lab: Lab, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        claim_batch(lab.db, lab.tenant, "w1", limit=limit, lease=LEASE)
