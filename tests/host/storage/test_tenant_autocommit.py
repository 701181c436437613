"""``Database.tenant_autocommit``: work that is one statement, with the same tenant checks
and binding as a tenant session, and no transaction around it on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, func, select, text

from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import CounterRow
from fleetprompt_sdk.errors import InvalidInputError, NotFoundError

BUMP = "INSERT INTO counters (name, value) VALUES (:name, 1)"
TWO_ROWS = "INSERT INTO counters (name, value) VALUES (:first, 1), (:second, 1)"


def _names(db: Database, slug: str = "acme") -> list[str]:
    with db.tenant_session(slug, readonly=True) as session:
        return list(session.execute(select(CounterRow.name).order_by(CounterRow.name)).scalars())


def _is_read_only_refusal(error: exc.DBAPIError) -> bool:
    text_ = str(error.orig).lower()
    return "read-only" in text_ or "readonly" in text_


# -- both backends ----------------------------------------------------------------------


def test_a_statement_is_committed_when_the_block_ends(db: Database) -> None:
    db.create_tenant("acme")
    with db.tenant_autocommit("acme") as conn:
        conn.execute(text(BUMP), {"name": "kept"})
    assert _names(db) == ["kept"]


def test_a_failing_statement_leaves_nothing_and_the_block_goes_on(db: Database) -> None:
    db.create_tenant("acme")
    with db.tenant_autocommit("acme") as conn:
        with pytest.raises(exc.IntegrityError):
            # The first row is valid; the statement fails on the second as a whole.
            conn.execute(text(TWO_ROWS), {"first": "half", "second": "half"})
        conn.execute(text(BUMP), {"name": "after"})
    assert _names(db) == ["after"]


def test_statements_reach_the_tenant_tables_only(db: Database) -> None:
    db.create_tenant("acme")
    db.create_tenant("beta")
    with db.tenant_autocommit("acme") as conn:
        conn.execute(text(BUMP), {"name": "mine"})
    with db.tenant_autocommit("beta", write=False) as conn:
        count = conn.execute(select(func.count()).select_from(CounterRow)).scalar()
    assert count == 0
    assert _names(db, "beta") == [] and _names(db) == ["mine"]


def test_unknown_and_malformed_tenants_are_refused_before_the_block_runs(db: Database) -> None:
    db.create_tenant("acme")
    ran = []
    with pytest.raises(NotFoundError) as missing, db.tenant_autocommit("nobody"):
        ran.append(1)
    with pytest.raises(InvalidInputError) as malformed, db.tenant_autocommit("Not A Slug"):
        ran.append(1)
    assert ran == []
    assert (missing.value.code, malformed.value.code) == ("tenant-not-found", "invalid-slug")


def test_a_tenant_deleted_by_another_process_is_refused_as_by_a_session(db: Database) -> None:
    db.create_tenant("acme")
    with db.tenant_autocommit("acme") as conn:
        conn.execute(text(BUMP), {"name": "before"})
    with Database(db.url) as other:
        other.delete_tenant("acme")
    # As for tenant_session: SQLite refuses at the start of the block; on PostgreSQL the
    # tenant's role is gone (its sessions ended), so the database refuses the statement.
    for _ in range(2):
        with (
            pytest.raises((NotFoundError, exc.DBAPIError)),
            db.tenant_autocommit("acme") as conn,
        ):
            conn.execute(text(BUMP), {"name": "lost"})
    with pytest.raises(NotFoundError):
        db.get_tenant("acme")


def test_sessions_on_the_same_pooled_connection_afterwards_are_transactions_again(
    db: Database,
) -> None:
    db.create_tenant("acme")
    with db.tenant_session("acme", readonly=True) as session:
        session.execute(text("SELECT 1"))
    with db.tenant_autocommit("acme") as conn:
        conn.execute(text(BUMP), {"name": "auto"})
    with pytest.raises(RuntimeError), db.tenant_session("acme") as session:
        session.execute(text(BUMP), {"name": "undone"})
        raise RuntimeError("abort")
    with pytest.raises(exc.DBAPIError) as refused, db.tenant_session("acme", True) as session:
        session.execute(text(BUMP), {"name": "sneaked"})
    assert _is_read_only_refusal(refused.value)
    assert _names(db) == ["auto"]


# -- PostgreSQL ---------------------------------------------------------------------------


def _postgres_only(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite runs the block as one transaction")


def test_on_postgresql_each_statement_commits_as_it_runs(db: Database) -> None:
    _postgres_only(db)
    db.create_tenant("acme")
    with pytest.raises(RuntimeError), db.tenant_autocommit("acme") as conn:
        conn.execute(text(BUMP), {"name": "first"})
        seen_meanwhile = _names(db)
        raise RuntimeError("the block fails after its statement")
    assert seen_meanwhile == ["first"]
    assert _names(db) == ["first"]


def test_on_postgresql_no_begin_or_commit_is_sent(db: Database) -> None:
    _postgres_only(db)
    db.create_tenant("acme")
    with db.tenant_autocommit("acme") as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        conn.execute(text(BUMP), {"name": "a"})
        # Outside any transaction right after the statement: nothing waits for COMMIT.
        assert raw.info.transaction_status.name == "IDLE"  # type: ignore[attr-defined]
    assert raw.autocommit is False  # type: ignore[attr-defined]


def test_on_postgresql_a_connection_that_broke_in_the_block_is_not_pooled(
    db: Database,
) -> None:
    _postgres_only(db)
    db.create_tenant("acme")
    with pytest.raises(exc.DBAPIError), db.tenant_autocommit("acme") as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with db.backend.host_transaction() as host:
            host.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.execute(text(BUMP), {"name": "lost"})
    with pytest.raises(RuntimeError), db.tenant_session("acme") as session:
        session.execute(text(BUMP), {"name": "undone"})
        raise RuntimeError("abort")
    with db.tenant_autocommit("acme") as conn:
        conn.execute(text(BUMP), {"name": "after"})
    assert _names(db) == ["after"]


# -- SQLite -------------------------------------------------------------------------------


def _sqlite_only(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite's transaction around the block")


def test_on_sqlite_the_block_is_one_transaction(db: Database) -> None:
    _sqlite_only(db)
    db.create_tenant("acme")
    with pytest.raises(RuntimeError), db.tenant_autocommit("acme") as conn:
        conn.execute(text(BUMP), {"name": "undone"})
        raise RuntimeError("abort")
    assert _names(db) == []


def test_on_sqlite_a_block_that_only_reads_is_read_only(db: Database) -> None:
    _sqlite_only(db)
    db.create_tenant("acme")
    with pytest.raises(exc.DBAPIError) as refused, db.tenant_autocommit("acme", write=False) as c:
        c.execute(text(BUMP), {"name": "sneaked"})
    assert _is_read_only_refusal(refused.value)
    assert _names(db) == []
