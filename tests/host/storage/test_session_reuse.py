"""What a tenant session reuses between sessions (engine, pooled connection, compiled
statements, read-only state) and how stale reuse is caught: a tenant deleted or replaced
by another process is never written through a cached engine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import exc, func, select, text

from fleetprompt_host.storage import Database
from fleetprompt_host.storage.backend import TenantHandle
from fleetprompt_host.storage.engine_cache import EngineCache
from fleetprompt_host.storage.models import CounterRow, RecordRow
from fleetprompt_host.storage.registry import audit
from fleetprompt_host.storage.sqlite_backend import SqliteBackend
from fleetprompt_sdk.errors import InvalidInputError, NotFoundError

WRITE = "INSERT INTO counters (name, value) VALUES (:name, 1)"


def _keys(db: Database, slug: str) -> list[str]:
    with db.tenant_session(slug, readonly=True) as session:
        return list(session.execute(select(RecordRow.key).order_by(RecordRow.key)).scalars())


def _write(db: Database, slug: str, key: str) -> None:
    with db.tenant_session(slug) as session:
        session.add(RecordRow(package="crm", collection="c", key=key, data={}))


def _is_read_only_refusal(error: exc.DBAPIError) -> bool:
    text_ = str(error.orig).lower()
    return "read-only" in text_ or "readonly" in text_


# -- both backends ----------------------------------------------------------------------


def test_read_only_and_write_sessions_alternate_on_pooled_connections(db: Database) -> None:
    db.create_tenant("acme")
    for round_ in range(3):
        with pytest.raises(exc.DBAPIError) as info, db.tenant_session("acme", True) as s:
            s.execute(text(WRITE), {"name": f"ro{round_}"})
        assert _is_read_only_refusal(info.value)
        with db.tenant_session("acme") as session:
            session.execute(text(WRITE), {"name": f"rw{round_}"})
    with db.tenant_session("acme", readonly=True) as session:
        names = session.execute(select(CounterRow.name).order_by(CounterRow.name)).scalars()
        assert list(names) == ["rw0", "rw1", "rw2"]


@pytest.mark.parametrize("end", ["COMMIT", "ROLLBACK"])
def test_a_read_only_session_stays_read_only_after_raw_sql_ends_its_transaction(
    db: Database, end: str
) -> None:
    db.create_tenant("acme")
    with pytest.raises(exc.DBAPIError) as info, db.tenant_session("acme", True) as session:
        session.execute(text(end))
        session.execute(text(WRITE), {"name": "sneaked"})
    assert _is_read_only_refusal(info.value)
    with db.tenant_session("acme", readonly=True) as session:
        assert session.execute(select(func.count()).select_from(CounterRow)).scalar() == 0


def test_a_statement_is_compiled_once_for_every_session_of_a_tenant(db: Database) -> None:
    db.create_tenant("acme")
    query = select(RecordRow.key).where(RecordRow.collection == "c")
    outcomes = []
    for _ in range(3):
        with db.tenant_session("acme", readonly=True) as session:
            result = session.connection().execute(query)
            outcomes.append(result.context.cache_hit)
            result.close()
    dialect = db.backend.host_engine.dialect
    assert outcomes[1:] == [dialect.CACHE_HIT] * 2


def test_a_statement_compiled_for_one_tenant_serves_the_next_with_its_own_rows(
    db: Database,
) -> None:
    for slug in ("acme", "beta"):
        db.create_tenant(slug)
        _write(db, slug, f"{slug}-only")
    query = select(RecordRow.key).where(RecordRow.collection == "c")
    found: dict[str, list[str]] = {}
    outcomes = []
    for slug in ("acme", "beta"):
        with db.tenant_session(slug, readonly=True) as session:
            result = session.connection().execute(query)
            outcomes.append(result.context.cache_hit)
            found[slug] = list(result.scalars())
    # One compiled form, and each tenant still reads its own table through it.
    assert outcomes[1] == db.backend.host_engine.dialect.CACHE_HIT
    assert found == {"acme": ["acme-only"], "beta": ["beta-only"]}
    engines = [db._handles.get(slug) for slug in ("acme", "beta")]
    assert all(handle is not None for handle in engines)
    assert engines[0].engine is not engines[1].engine  # type: ignore[union-attr]


def test_a_cached_tenant_is_not_looked_up_in_the_registry_again_until_forgotten(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.create_tenant("acme")
    _write(db, "acme", "1")
    lookups: list[str] = []
    original = db._active_row

    def counting(slug: str, conn: object = None) -> object:
        lookups.append(slug)
        return original(slug)

    monkeypatch.setattr(db, "_active_row", counting)
    _write(db, "acme", "2")
    assert _keys(db, "acme") == ["1", "2"]
    assert lookups == []
    db.forget_tenant_engine("acme")
    assert _keys(db, "acme") == ["1", "2"]
    assert lookups == ["acme"]


def test_work_after_a_rollback_inside_the_block_is_still_one_transaction(db: Database) -> None:
    db.create_tenant("acme")
    with pytest.raises(RuntimeError), db.tenant_session("acme") as session:
        session.add(RecordRow(package="crm", collection="c", key="first", data={}))
        session.flush()
        session.rollback()
        # The next statement begins a new transaction (BEGIN IMMEDIATE on SQLite), so
        # the block's error still undoes it.
        session.add(RecordRow(package="crm", collection="c", key="second", data={}))
        session.flush()
        raise RuntimeError("undo")
    assert _keys(db, "acme") == []


def test_tenant_engines_dispatch_no_connection_events(db: Database) -> None:
    db.create_tenant("acme")
    _write(db, "acme", "1")
    handle = db._handles.get("acme")
    assert handle is not None
    # Any connection event makes SQLAlchemy dispatch around every statement.
    assert handle.engine._has_events is False


@pytest.mark.parametrize("slug", [None, 42, ["acme"], "Acme"])
def test_a_malformed_slug_is_refused_before_any_cache_or_registry_lookup(
    db: Database, slug: object
) -> None:
    db.create_tenant("acme")
    _write(db, "acme", "1")
    with pytest.raises(InvalidInputError) as info, db.tenant_session(slug):  # type: ignore[arg-type]
        pass
    assert info.value.code == "invalid-slug"


def test_a_tenant_deleted_by_another_process_is_refused_on_both_kinds_of_session(
    db: Database,
) -> None:
    db.create_tenant("acme")
    _write(db, "acme", "1")
    assert _keys(db, "acme") == ["1"]
    with Database(db.url) as other:
        other.delete_tenant("acme")
    # SQLite refuses at the start of the session; on PostgreSQL the tenant's role is gone,
    # so the database refuses the first statement.
    for readonly in (False, True):
        refused = pytest.raises((NotFoundError, exc.DBAPIError))
        with refused, db.tenant_session("acme", readonly) as session:
            session.execute(select(func.count()).select_from(RecordRow)).scalar()
    with pytest.raises(NotFoundError):
        db.get_tenant("acme")


# -- SQLite -------------------------------------------------------------------------------


@pytest.fixture
def sq_db(tmp_path: Path) -> Iterator[Database]:
    """A SQLite database with tenant ``acme`` holding record ``before``."""
    database = Database(f"sqlite:///{tmp_path / 'home' / 'fleetprompt.sqlite'}")
    database.create_tenant("acme")
    _write(database, "acme", "before")
    yield database
    database.close()


def _acme_file(db: Database) -> Path:
    backend = db.backend
    assert isinstance(backend, SqliteBackend)
    return backend.tenant_path("org_acme")


def test_read_only_connections_are_query_only_and_cannot_be_switched_back(
    sq_db: Database,
) -> None:
    for _ in range(2):
        with sq_db.tenant_session("acme", readonly=True) as session:
            assert session.execute(text("PRAGMA query_only")).scalar() == 1
        with sq_db.tenant_session("acme") as session:
            assert session.execute(text("PRAGMA query_only")).scalar() == 0
    with pytest.raises(exc.DatabaseError) as info, sq_db.tenant_session("acme", True) as s:
        s.execute(text("PRAGMA query_only = 0"))
    assert "not authorized" in str(info.value.orig)
    with pytest.raises(exc.DBAPIError) as refused, sq_db.tenant_session("acme", True) as s:
        s.execute(text(WRITE), {"name": "x"})
    assert _is_read_only_refusal(refused.value)


def test_a_write_after_another_process_deleted_the_tenant_is_refused_and_recreates_nothing(
    sq_db: Database,
) -> None:
    with Database(sq_db.url) as other:
        other.delete_tenant("acme")
    with pytest.raises(NotFoundError), sq_db.tenant_session("acme") as session:
        session.add(RecordRow(package="crm", collection="c", key="lost", data={}))
    files = sorted(p.name for p in _acme_file(sq_db).parent.iterdir())
    assert files == []


def test_a_tenant_deleted_and_created_again_elsewhere_is_written_at_its_new_file(
    sq_db: Database,
) -> None:
    with Database(sq_db.url) as other:
        other.delete_tenant("acme")
        other.create_tenant("acme")
        # The cached engine's pooled connection still holds the unlinked old file.
        _write(sq_db, "acme", "after")
        assert _keys(other, "acme") == ["after"]
    assert _keys(sq_db, "acme") == ["after"]


def test_deleting_a_tenant_waits_for_its_running_write_transaction_without_blocking_the_host(
    sq_db: Database,
) -> None:
    """The writer, like one marking work due, writes the host inside its transaction.

    The delete must wait for the writer's commit, and must not hold the host while it
    waits: the writer's host write goes through while the delete is still waiting.
    """
    inside, go_host, host_written = threading.Event(), threading.Event(), threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with sq_db.tenant_session("acme") as session:
                session.add(RecordRow(package="crm", collection="c", key="during", data={}))
                session.flush()
                inside.set()
                assert go_host.wait(30)
                with sq_db.backend.host_transaction() as host:
                    audit(host, "system:test", "test.during", "acme")
                host_written.set()
                assert release.wait(30)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
            inside.set()

    other = Database(sq_db.url)
    deleter = threading.Thread(target=other.delete_tenant, args=("acme",))
    thread = threading.Thread(target=writer)
    thread.start()
    assert inside.wait(30)
    deleter.start()
    deleter.join(timeout=0.5)
    started_waiting = deleter.is_alive()
    go_host.set()
    host_went_through = host_written.wait(10)
    still_waiting = deleter.is_alive()
    release.set()
    thread.join(timeout=30)
    deleter.join(timeout=30)
    other.close()
    assert errors == []
    assert started_waiting and still_waiting, "the delete did not wait for the writer"
    assert host_went_through, "the writer's host write waited for the delete"
    assert not _acme_file(sq_db).exists()
    with pytest.raises(NotFoundError), sq_db.tenant_session("acme"):
        pass


def test_a_tenant_whose_file_is_not_a_database_can_still_be_deleted(sq_db: Database) -> None:
    sq_db.forget_tenant_engine("acme")
    _acme_file(sq_db).write_bytes(b"this is not a database" * 100)
    sq_db.delete_tenant("acme")
    assert sorted(_acme_file(sq_db).parent.iterdir()) == []


# -- the engine cache ----------------------------------------------------------------------


class _Handle(TenantHandle):
    """A handle whose disposal is only recorded (no engine behind it)."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.disposed = False

    def dispose(self) -> None:
        self.disposed = True


def test_dropping_a_stale_handle_leaves_a_fresh_one_cached_by_another_thread() -> None:
    cache = EngineCache(4)
    stale, fresh = _Handle("acme"), _Handle("acme")
    cache.put(fresh)
    cache.discard("acme", only=stale)
    assert cache.get("acme") is fresh
    assert (stale.disposed, fresh.disposed) == (True, False)
    cache.discard("acme", only=fresh)
    assert cache.get("acme") is None
    assert fresh.disposed
