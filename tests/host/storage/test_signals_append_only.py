"""Signals are append-only in the database; the host's retention path is the exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import exc, func, select, text

from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import DeliveryRow, HostAuditRow, SignalRow, allocate
from fleetprompt_host.storage.retention import prune_signals
from fleetprompt_sdk.errors import InvalidInputError

OLD = datetime(2020, 1, 1, tzinfo=UTC)


def _emit(db: Database, slug: str, recorded_at: datetime, n: int = 1) -> None:
    with db.tenant_session(slug) as session:
        for _ in range(n):
            seq = allocate(session, "signals")
            signal = SignalRow(seq=seq, type="crm.contact.created", source="crm")
            signal.recorded_at = recorded_at
            session.add(signal)
            session.flush()
            session.add(DeliveryRow(signal_id=signal.id, signal_seq=seq, handler="crm:h"))


def _count(db: Database, slug: str) -> int:
    with db.tenant_session(slug, readonly=True) as session:
        return int(session.execute(select(func.count()).select_from(SignalRow)).scalar_one())


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE signals SET type = 'tampered'",
        "UPDATE signals SET data = '{}' WHERE seq = 1",
        "DELETE FROM signals",
        "DELETE FROM signals WHERE seq = 1",
    ],
)
def test_updating_or_deleting_a_signal_is_refused_by_the_database(
    db: Database, statement: str
) -> None:
    db.create_tenant("acme")
    _emit(db, "acme", OLD)
    with pytest.raises(exc.DBAPIError) as info, db.tenant_session("acme") as session:
        session.execute(text(statement))
    message = str(info.value.orig)
    assert "append-only" in message or "permission denied for table signals" in message
    assert _count(db, "acme") == 1


def test_orm_updates_to_a_signal_are_refused_too(db: Database) -> None:
    db.create_tenant("acme")
    _emit(db, "acme", OLD)
    with pytest.raises(exc.DBAPIError), db.tenant_session("acme") as session:
        session.execute(select(SignalRow)).scalar_one().type = "tampered"
    with db.tenant_session("acme", readonly=True) as session:
        assert session.execute(select(SignalRow.type)).scalar_one() == "crm.contact.created"


def test_retention_prunes_old_signals_only_and_is_audited(db: Database) -> None:
    db.create_tenant("acme")
    db.create_tenant("beta")
    _emit(db, "acme", OLD, n=3)
    _emit(db, "acme", datetime.now(UTC))
    _emit(db, "beta", OLD)
    cutoff = datetime.now(UTC) - timedelta(days=30)
    assert prune_signals(db, "acme", cutoff, actor="user:admin") == 3
    assert _count(db, "acme") == 1
    assert _count(db, "beta") == 1
    with db.tenant_session("acme", readonly=True) as session:
        assert session.execute(select(func.count()).select_from(DeliveryRow)).scalar() == 1
    with db.host_session() as session:
        entry = (
            session.execute(
                select(HostAuditRow)
                .where(HostAuditRow.action == "signals.prune")
                .order_by(HostAuditRow.id.desc())
            )
            .scalars()
            .first()
        )
        assert entry is not None
        assert (entry.actor, entry.tenant_slug, entry.details["deleted"]) == (
            "user:admin",
            "acme",
            3,
        )
    # The protection is back in place after pruning.
    with pytest.raises(exc.DBAPIError), db.tenant_session("acme") as session:
        session.execute(text("DELETE FROM signals"))


@pytest.mark.parametrize("cutoff", [datetime(2020, 1, 1), datetime.now(UTC) + timedelta(days=1)])
def test_retention_refuses_a_naive_or_future_cutoff(db: Database, cutoff: datetime) -> None:
    db.create_tenant("acme")
    _emit(db, "acme", OLD)
    with pytest.raises(InvalidInputError):
        prune_signals(db, "acme", cutoff, actor="user:admin")
    assert _count(db, "acme") == 1
