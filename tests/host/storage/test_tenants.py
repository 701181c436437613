"""Tenant lifecycle and the tenant session, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import exc, func, select, text

from fleetprompt_host.storage import Database, migrate
from fleetprompt_host.storage.models import (
    HostAuditRow,
    MemberRow,
    RecordRow,
    SignalRow,
    TenantRow,
    allocate,
)
from fleetprompt_sdk.errors import ConflictError, InvalidInputError, NotFoundError


def _record_count(db: Database, slug: str) -> int:
    with db.tenant_session(slug, readonly=True) as session:
        return int(session.execute(select(func.count()).select_from(RecordRow)).scalar_one())


def test_created_tenant_is_listed_shown_and_at_the_current_revision(db: Database) -> None:
    info = db.create_tenant("acme", "Acme Inc.", actor="user:alice")
    assert (info.slug, info.display_name, info.status) == ("acme", "Acme Inc.", "active")
    assert info.schema_name == "org_acme"
    assert info.schema_revision == migrate.head("tenant")
    assert info.created_by == "user:alice"
    assert info.created_at.tzinfo is not None
    assert db.get_tenant("acme") == info
    assert [t.slug for t in db.list_tenants()] == ["acme"]


def test_creating_user_becomes_the_owner_and_system_actors_add_no_member(db: Database) -> None:
    db.create_tenant("acme", actor="user:alice")
    db.create_tenant("beta", actor="system:installer")
    with db.tenant_session("acme") as session:
        members = session.execute(select(MemberRow.actor, MemberRow.role)).all()
    assert members == [("user:alice", "owner")]
    with db.tenant_session("beta") as session:
        assert session.execute(select(MemberRow)).all() == []


def test_creating_an_existing_tenant_is_a_conflict_and_changes_nothing(db: Database) -> None:
    db.create_tenant("acme", "First", actor="user:alice")
    with pytest.raises(ConflictError) as info:
        db.create_tenant("acme", "Second", actor="user:bob")
    assert info.value.code == "tenant-exists"
    assert db.get_tenant("acme").display_name == "First"
    assert db.get_tenant("acme").created_by == "user:alice"


@pytest.mark.parametrize("slug", ["", "Acme", "acme;drop schema public", "\u0430cme", "public"])
def test_invalid_slug_is_refused_and_nothing_is_written(db: Database, slug: str) -> None:
    def audit_rows() -> int:
        with db.host_session() as session:
            return int(session.execute(select(func.count()).select_from(HostAuditRow)).scalar_one())

    before = audit_rows()
    with pytest.raises(InvalidInputError) as info:
        db.create_tenant(slug, actor="user:alice")
    assert info.value.code == "invalid-slug"
    assert db.list_tenants() == []
    assert audit_rows() == before


def test_invalid_actor_is_refused_before_anything_is_written(db: Database) -> None:
    with pytest.raises(InvalidInputError) as info:
        db.create_tenant("acme", actor="alice")
    assert info.value.code == "invalid-actor"
    assert db.list_tenants() == []


@pytest.mark.parametrize("op", ["get", "delete", "session"])
def test_unknown_tenant_is_not_found(db: Database, op: str) -> None:
    with pytest.raises(NotFoundError) as info:
        if op == "get":
            db.get_tenant("nobody")
        elif op == "delete":
            db.delete_tenant("nobody")
        else:
            with db.tenant_session("nobody"):
                pass
    assert info.value.code == "tenant-not-found"


def test_tenant_session_refuses_an_invalid_slug_before_connecting(db: Database) -> None:
    with pytest.raises(InvalidInputError), db.tenant_session("x; drop table records"):
        pass


def test_session_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    db.create_tenant("acme")
    with db.tenant_session("acme") as session:
        session.add(RecordRow(package="crm", collection="contacts", key="1", data={"n": 1}))
    with pytest.raises(RuntimeError), db.tenant_session("acme") as session:
        session.add(RecordRow(package="crm", collection="contacts", key="2", data={"n": 2}))
        session.flush()
        raise RuntimeError("boom")
    assert _record_count(db, "acme") == 1


def test_session_commit_inside_the_block_does_not_end_the_unit_of_work(db: Database) -> None:
    db.create_tenant("acme")
    with pytest.raises(RuntimeError), db.tenant_session("acme") as session:
        session.add(RecordRow(package="crm", collection="contacts", key="1", data={}))
        session.commit()
        raise RuntimeError("after commit")
    assert _record_count(db, "acme") == 0


def test_readonly_session_refuses_writes_even_through_raw_sql(db: Database) -> None:
    db.create_tenant("acme")
    with pytest.raises(exc.DBAPIError) as info, db.tenant_session("acme", readonly=True) as s:
        s.execute(text("INSERT INTO counters (name, value) VALUES ('x', 1)"))
    assert "read-only" in str(info.value) or "readonly" in str(info.value)
    # The connection goes back to the pool usable for writes.
    with db.tenant_session("acme") as session:
        session.execute(text("INSERT INTO counters (name, value) VALUES ('x', 1)"))


def test_data_written_in_one_tenant_is_invisible_in_another(db: Database) -> None:
    db.create_tenant("acme")
    db.create_tenant("beta")
    with db.tenant_session("acme") as session:
        session.add(RecordRow(package="crm", collection="contacts", key="1", data={}))
    assert _record_count(db, "acme") == 1
    assert _record_count(db, "beta") == 0


def test_json_and_timestamps_round_trip(db: Database) -> None:
    db.create_tenant("acme")
    data = {"name": "Zoë", "tags": ["a", "b"], "n": 1.5, "nested": {"ok": True, "none": None}}
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    with db.tenant_session("acme") as session:
        session.add(RecordRow(package="crm", collection="c", key="k", data=data))
        session.add(SignalRow(seq=1, type="crm.contact.created", source="crm", occurred_at=when))
    with db.tenant_session("acme", readonly=True) as session:
        record = session.execute(select(RecordRow)).scalar_one()
        signal = session.execute(select(SignalRow)).scalar_one()
    assert record.data == data
    assert record.created_at.tzinfo is not None
    assert signal.occurred_at == when


def test_record_keys_are_unique_per_package_and_collection(db: Database) -> None:
    db.create_tenant("acme")
    with db.tenant_session("acme") as session:
        session.add(RecordRow(package="crm", collection="c", key="k", data={}))
        session.add(RecordRow(package="helpdesk", collection="c", key="k", data={}))
    with pytest.raises(exc.IntegrityError), db.tenant_session("acme") as session:
        session.add(RecordRow(package="crm", collection="c", key="k", data={}))
    assert _record_count(db, "acme") == 2


def test_counter_allocations_are_consecutive_and_rolled_back_with_the_transaction(
    db: Database,
) -> None:
    db.create_tenant("acme")
    with db.tenant_session("acme") as session:
        assert [allocate(session, "signals") for _ in range(3)] == [1, 2, 3]
    with pytest.raises(RuntimeError), db.tenant_session("acme") as session:
        allocate(session, "signals")
        raise RuntimeError("rolled back")
    with db.tenant_session("acme") as session:
        assert allocate(session, "signals", count=5) == 8


def test_delete_drops_that_tenant_only(db: Database) -> None:
    db.create_tenant("acme")
    db.create_tenant("beta")
    with db.tenant_session("beta") as session:
        session.add(RecordRow(package="crm", collection="c", key="k", data={}))
    db.delete_tenant("acme", actor="user:alice")
    assert [t.slug for t in db.list_tenants()] == ["beta"]
    assert _record_count(db, "beta") == 1
    with pytest.raises(NotFoundError), db.tenant_session("acme"):
        pass
    # A new tenant with the same slug starts empty.
    db.create_tenant("acme")
    assert _record_count(db, "acme") == 0


def test_create_and_delete_are_audited_in_the_host(db: Database) -> None:
    db.create_tenant("acme", actor="user:alice")
    db.delete_tenant("acme", actor="user:alice")
    with db.host_session() as session:
        rows = session.execute(
            select(HostAuditRow.action, HostAuditRow.actor)
            .where(HostAuditRow.tenant_slug == "acme")
            .order_by(HostAuditRow.id)
        ).all()
        assert session.execute(select(TenantRow)).all() == []
    assert rows[-2:] == [("tenant.create", "user:alice"), ("tenant.delete", "user:alice")]
