"""SQLite isolation: one file per tenant, and a tenant connection cannot leave its file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import RecordRow
from fleetprompt_host.storage.sqlite_backend import SqliteBackend


@pytest.fixture
def sq_db(tmp_path: Path) -> Iterator[Database]:
    """A SQLite database with tenants ``acme`` (attacker) and ``beta`` (victim)."""
    database = Database(f"sqlite:///{tmp_path / 'home' / 'fleetprompt.sqlite'}")
    database.create_tenant("acme")
    database.create_tenant("beta")
    with database.tenant_session("beta") as session:
        session.add(RecordRow(package="crm", collection="c", key="secret", data={}))
    yield database
    database.close()


def _beta_file(db: Database) -> Path:
    backend = db.backend
    assert isinstance(backend, SqliteBackend)
    return backend.tenant_path("org_beta")


def test_each_tenant_has_its_own_file_next_to_the_host_file(sq_db: Database) -> None:
    backend = sq_db.backend
    assert isinstance(backend, SqliteBackend)
    files = sorted(p.name for p in backend.tenants_dir.glob("*.sqlite"))
    assert files == ["org_acme.sqlite", "org_beta.sqlite"]
    assert backend.tenants_dir.parent == backend.host_path.parent


@pytest.mark.parametrize(
    "attack",
    [
        "ATTACH DATABASE '{beta}' AS beta",
        "ATTACH DATABASE '{host}' AS host",
        # Leaving the transaction first, as VACUUM needs, does not help.
        "COMMIT;;VACUUM INTO '{tmp}'",
        "CREATE TABLE evil (id INTEGER)",
        "CREATE TEMP TABLE evil (id INTEGER)",
        "DROP TABLE records",
        "DROP TRIGGER signals_no_delete",
        "CREATE TRIGGER evil AFTER INSERT ON records BEGIN SELECT 1; END",
        "ALTER TABLE records ADD COLUMN evil TEXT",
        "PRAGMA query_only = 0",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA writable_schema = 1",
    ],
)
def test_attack_from_a_tenant_connection_is_not_authorized(
    sq_db: Database, attack: str, tmp_path: Path
) -> None:
    backend = sq_db.backend
    assert isinstance(backend, SqliteBackend)
    statement = attack.format(
        beta=_beta_file(sq_db), host=backend.host_path, tmp=tmp_path / "stolen.sqlite"
    )
    with pytest.raises(exc.DatabaseError) as info, sq_db.tenant_session("acme") as session:
        for part in statement.split(";;"):
            session.execute(text(part))
    assert "not authorized" in str(info.value.orig) or "authorization denied" in str(
        info.value.orig
    )
    assert not (tmp_path / "stolen.sqlite").exists()


@pytest.mark.parametrize("table", ["tenants", "main.tenants", "beta.records", "host_audit"])
def test_host_and_other_tenant_tables_do_not_exist_for_a_tenant(
    sq_db: Database, table: str
) -> None:
    with pytest.raises(exc.OperationalError) as info, sq_db.tenant_session("acme") as session:
        session.execute(text(f"SELECT * FROM {table}"))
    assert "no such table" in str(info.value.orig) or "unknown database" in str(info.value.orig)


def test_reading_pragmas_is_allowed_but_changing_them_is_not(sq_db: Database) -> None:
    with sq_db.tenant_session("acme") as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA query_only")).scalar() == 0


def test_a_deleted_tenant_file_is_never_recreated_by_a_cached_engine(sq_db: Database) -> None:
    with sq_db.tenant_session("beta", readonly=True):
        pass
    other = Database(sq_db.url)
    other.delete_tenant("beta")
    other.close()
    assert not _beta_file(sq_db).exists()
    with pytest.raises(Exception), sq_db.tenant_session("beta"):  # noqa: B017
        pass
    assert not _beta_file(sq_db).exists()
