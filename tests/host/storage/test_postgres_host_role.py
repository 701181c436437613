"""The production set-up: FleetPrompt connecting as a plain (non-superuser) host role."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg.errors as pg
import pytest
from sqlalchemy import exc, text
from sqlalchemy.engine import make_url

from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import RecordRow
from fleetprompt_host.testing.fixtures import require_postgres
from fleetprompt_host.testing.postgres import PostgresServer, role_tag

pytestmark = pytest.mark.postgres


@pytest.fixture
def plain_host_url(fp_postgres: PostgresServer | str) -> Iterator[str]:
    """A database owned by a fresh ``LOGIN CREATEROLE`` role, and a URL that logs in as it."""
    server = require_postgres(fp_postgres)
    role = f"fp_host_{secrets.token_hex(4)}"
    engine = server.admin_engine()
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN CREATEROLE')
    engine.dispose()
    url = server.create_database(owner=role)
    try:
        yield make_url(url).set(username=role).render_as_string(hide_password=False)
    finally:
        server.drop_database(str(make_url(url).database))
        server.drop_role(role)


def test_a_non_superuser_host_role_runs_the_whole_tenant_lifecycle(plain_host_url: str) -> None:
    with Database(plain_host_url) as db:
        with db.host_session() as session:
            assert (
                session.execute(
                    text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                ).scalar()
                is False
            )
        db.create_tenant("acme", actor="user:alice")
        db.create_tenant("beta", actor="user:bob")
        with db.tenant_session("acme") as session:
            session.add(RecordRow(package="crm", collection="c", key="k", data={}))
        with pytest.raises(exc.DBAPIError) as info, db.tenant_session("beta") as session:
            session.execute(text("SELECT * FROM org_acme.records"))
        assert isinstance(info.value.orig, pg.InsufficientPrivilege)
        with pytest.raises(exc.DBAPIError) as info, db.tenant_session("beta") as session:
            session.execute(text("SELECT * FROM fleetprompt.tenants"))
        assert isinstance(info.value.orig, pg.InsufficientPrivilege)
        db.delete_tenant("acme")
        db.delete_tenant("beta")
        assert db.list_tenants() == []
        with db.host_session() as session:
            left = session.execute(
                text("SELECT count(*) FROM pg_roles WHERE starts_with(rolname, :tag)"),
                {"tag": role_tag(str(make_url(plain_host_url).database))},
            ).scalar()
        assert left == 0
