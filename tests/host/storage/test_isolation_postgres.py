"""PostgreSQL isolation is enforced by the database: an attack suite run from a tenant
session with raw SQL. Each attack must be refused with the specific error."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg.errors as pg
import pytest
from sqlalchemy import exc, text

from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import RecordRow

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_db(fp_postgres_url: str) -> Iterator[Database]:
    """Two tenants, ``acme`` (the attacker) and ``beta`` (the victim, with one record).

    Shared by the module: every attack is refused, so none changes the state.
    """
    database = Database(fp_postgres_url)
    database.create_tenant("acme", actor="user:mallory")
    database.create_tenant("beta", actor="user:victim")
    with database.tenant_session("beta") as session:
        session.add(RecordRow(package="crm", collection="c", key="secret", data={"x": 1}))
    try:
        yield database
    finally:
        for slug in ("acme", "beta"):
            database.delete_tenant(slug)
        database.close()


def _attack(db: Database, *statements: str) -> exc.DBAPIError:
    """Run ``statements`` in one acme session; return the database error they raise."""
    with pytest.raises(exc.DBAPIError) as info, db.tenant_session("acme") as session:
        for statement in statements:
            session.execute(text(statement))
    return info.value


def _role(db: Database, slug: str) -> str:
    with db.host_session() as session:
        from fleetprompt_host.storage.models import TenantRow

        return str(session.query(TenantRow.db_role).filter(TenantRow.slug == slug).scalar())


@pytest.mark.parametrize(
    ("attack", "error", "message"),
    [
        ("SELECT * FROM org_beta.records", pg.InsufficientPrivilege, "schema org_beta"),
        (
            "INSERT INTO org_beta.records (package) VALUES ('x')",
            pg.InsufficientPrivilege,
            "org_beta",
        ),
        ("SELECT * FROM fleetprompt.tenants", pg.InsufficientPrivilege, "schema fleetprompt"),
        ("UPDATE fleetprompt.tenants SET status = 'x'", pg.InsufficientPrivilege, "fleetprompt"),
        ("SELECT * FROM pg_authid", pg.InsufficientPrivilege, "pg_authid"),
        ("SET ROLE postgres", pg.InsufficientPrivilege, "set role"),
        ("SET SESSION AUTHORIZATION postgres", pg.InsufficientPrivilege, "session authorization"),
        ("SELECT pg_read_file('/etc/passwd')", pg.InsufficientPrivilege, "pg_read_file"),
        ("COPY records TO '/tmp/fp_stolen'", pg.InsufficientPrivilege, "COPY to a file"),
        ("CREATE TABLE public.evil (id int)", pg.InsufficientPrivilege, "schema public"),
        ("CREATE TABLE evil (id int)", pg.InsufficientPrivilege, "schema org_acme"),
        ("CREATE TEMP TABLE evil (id int)", pg.InsufficientPrivilege, "temporary tables"),
        ("CREATE SCHEMA evil", pg.InsufficientPrivilege, "database"),
        ("DROP SCHEMA org_beta CASCADE", pg.InsufficientPrivilege, "owner of schema org_beta"),
        ("DROP SCHEMA org_acme CASCADE", pg.InsufficientPrivilege, "owner of schema org_acme"),
        ("DROP TABLE records", pg.InsufficientPrivilege, "owner of table records"),
        ("ALTER TABLE signals DISABLE TRIGGER ALL", pg.InsufficientPrivilege, "owner"),
        ("CREATE EXTENSION dblink", pg.Error, "extension"),
        ("LOCK TABLE fleetprompt.tenants", pg.InsufficientPrivilege, "fleetprompt"),
    ],
)
def test_attack_from_a_tenant_session_is_refused(
    pg_db: Database, attack: str, error: type[Exception], message: str
) -> None:
    refused = _attack(pg_db, attack)
    assert isinstance(refused.orig, error), refused
    assert message.lower() in str(refused.orig).lower()


def test_set_role_to_another_tenant_role_is_refused(pg_db: Database) -> None:
    refused = _attack(pg_db, f'SET ROLE "{_role(pg_db, "beta")}"')
    assert isinstance(refused.orig, pg.InsufficientPrivilege)
    assert "set role" in str(refused.orig)


def test_reset_role_leaves_the_session_as_the_tenant_role(pg_db: Database) -> None:
    with pg_db.tenant_session("acme") as session:
        session.execute(text("RESET ROLE"))
        session.execute(text("RESET SESSION AUTHORIZATION"))
        who = session.execute(text("SELECT current_user, session_user")).one()
    assert tuple(who) == (_role(pg_db, "acme"),) * 2
    refused = _attack(pg_db, "RESET ROLE", "SELECT * FROM fleetprompt.tenants")
    assert isinstance(refused.orig, pg.InsufficientPrivilege)


def test_search_path_to_another_schema_finds_nothing(pg_db: Database) -> None:
    refused = _attack(pg_db, "SET search_path = org_beta", "SELECT * FROM records")
    assert isinstance(refused.orig, pg.UndefinedTable)


def test_tenant_role_is_no_superuser_and_member_of_nothing(pg_db: Database) -> None:
    with pg_db.tenant_session("acme", readonly=True) as session:
        row = session.execute(
            text(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, "
                "(SELECT count(*) FROM pg_auth_members WHERE member = r.oid) "
                "FROM pg_roles r WHERE rolname = current_user"
            )
        ).one()
    assert tuple(row) == (False, False, False, False, 0)


@pytest.mark.parametrize(
    "statement",
    ["UPDATE signals SET type = 'x'", "DELETE FROM signals", "TRUNCATE signals"],
)
def test_tenant_role_cannot_change_or_remove_signals(pg_db: Database, statement: str) -> None:
    refused = _attack(pg_db, statement)
    assert isinstance(refused.orig, pg.InsufficientPrivilege)
    assert "signals" in str(refused.orig)


def test_host_role_is_refused_signal_updates_by_the_trigger(pg_db: Database) -> None:
    with pg_db.tenant_session("acme") as session:
        session.execute(
            text(
                "INSERT INTO signals (id, seq, type, data, source, occurred_at, recorded_at) "
                "VALUES ('s1', 1, 'a.b', '{}', 'test', now(), now())"
            )
        )
    with pytest.raises(exc.DBAPIError) as info, pg_db.backend.host_transaction() as conn:
        conn.exec_driver_sql("UPDATE org_acme.signals SET type = 'x'")
    assert "append-only" in str(info.value.orig)


def test_victim_data_is_intact_after_the_attacks(pg_db: Database) -> None:
    for attack in ("DELETE FROM org_beta.records", "DROP SCHEMA org_beta CASCADE"):
        _attack(pg_db, attack)
    with pg_db.tenant_session("beta", readonly=True) as session:
        assert session.execute(text("SELECT key FROM records")).scalars().all() == ["secret"]
