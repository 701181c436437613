"""``Database.tenant_dbapi``: a SQLite tenant write transaction on the bare connection, with
the same checks and guard as a tenant session."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import CounterRow
from fleetprompt_host.storage.sqlite_backend import SqliteBackend
from fleetprompt_sdk.errors import InvalidInputError, NotFoundError, StorageError

BUMP = "INSERT INTO counters (name, value) VALUES (?, 1)"


@pytest.fixture
def sq_db(tmp_path: Path) -> Iterator[Database]:
    """A SQLite database with tenant ``acme``."""
    database = Database(f"sqlite:///{tmp_path / 'fleetprompt.sqlite'}")
    database.create_tenant("acme")
    yield database
    database.close()


def _counters(db: Database) -> list[str]:
    with db.tenant_session("acme", readonly=True) as session:
        return list(session.execute(select(CounterRow.name).order_by(CounterRow.name)).scalars())


def test_the_block_commits_when_it_ends_and_rolls_back_when_it_raises(sq_db: Database) -> None:
    with sq_db.tenant_dbapi("acme") as raw:
        raw.execute(BUMP, ("kept",))
    with pytest.raises(RuntimeError), sq_db.tenant_dbapi("acme") as raw:
        raw.execute(BUMP, ("dropped",))
        raise RuntimeError("abort")
    assert _counters(sq_db) == ["kept"]


def test_the_block_holds_the_tenant_write_lock_from_its_start(sq_db: Database) -> None:
    backend = sq_db.backend
    assert isinstance(backend, SqliteBackend)
    other = sqlite3.connect(backend.tenant_path("org_acme"), timeout=0, isolation_level=None)
    try:
        with sq_db.tenant_dbapi("acme") as raw:
            assert raw.in_transaction
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_unknown_and_malformed_tenants_are_refused_before_the_block_runs(
    sq_db: Database,
) -> None:
    ran = []
    with pytest.raises(NotFoundError), sq_db.tenant_dbapi("nobody"):
        ran.append(1)
    with pytest.raises(InvalidInputError), sq_db.tenant_dbapi("Not A Slug"):
        ran.append(1)
    assert ran == []


def test_a_tenant_deleted_by_another_process_is_refused(sq_db: Database) -> None:
    with sq_db.tenant_dbapi("acme") as raw:
        raw.execute(BUMP, ("before",))
    with Database(sq_db.url) as other:
        other.delete_tenant("acme")
    with pytest.raises(NotFoundError), sq_db.tenant_dbapi("acme") as raw:
        raw.execute(BUMP, ("lost",))


def test_the_connection_keeps_the_tenant_guard(sq_db: Database) -> None:
    with (
        pytest.raises(sqlite3.DatabaseError, match="not authorized"),
        sq_db.tenant_dbapi("acme") as raw,
    ):
        raw.execute("DROP TABLE counters")
    assert _counters(sq_db) == []


def test_postgresql_databases_point_to_tenant_sessions(db: Database) -> None:
    if db.dialect == "sqlite":
        pytest.skip("the bare connection is SQLite's")
    db.create_tenant("acme")
    with pytest.raises(StorageError) as info, db.tenant_dbapi("acme"):
        pass
    assert info.value.code == "dbapi-unsupported"


def test_consecutive_blocks_reuse_one_connection_until_the_tenant_is_forgotten(
    sq_db: Database,
) -> None:
    with sq_db.tenant_dbapi("acme") as first:
        pass
    with sq_db.tenant_dbapi("acme") as second:
        assert second is first
    sq_db.forget_tenant_engine("acme")
    with pytest.raises(sqlite3.ProgrammingError):
        first.execute("SELECT 1")  # closed with its engine
    with sq_db.tenant_dbapi("acme") as third:
        third.execute(BUMP, ("after",))
    assert _counters(sq_db) == ["after"]


def test_a_block_that_raised_gives_its_connection_back_rolled_back(sq_db: Database) -> None:
    with pytest.raises(RuntimeError), sq_db.tenant_dbapi("acme") as raw:
        raw.execute(BUMP, ("dropped",))
        raise RuntimeError("abort")
    with sq_db.tenant_dbapi("acme") as again:
        assert again.in_transaction
        again.execute(BUMP, ("kept",))
    assert _counters(sq_db) == ["kept"]


def test_closing_the_database_closes_the_connection_of_the_last_block(sq_db: Database) -> None:
    with sq_db.tenant_dbapi("acme") as raw:
        pass
    sq_db.close()
    with pytest.raises(sqlite3.ProgrammingError):
        raw.execute("SELECT 1")
