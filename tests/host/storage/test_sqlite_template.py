"""SQLite tenant files are copies of one image built by the migrations, kept per process
and on disk; a copy is indistinguishable from a tenant migrated from scratch."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from fleetprompt_host.storage import Database, migrate, sqlite_template
from fleetprompt_host.storage.models import MemberRow
from fleetprompt_host.storage.sqlite_backend import SqliteBackend


@pytest.fixture
def fresh_process_cache() -> Iterator[None]:
    """Forget the in-memory images, as a new process would, and restore them afterwards."""
    saved = dict(sqlite_template._images)
    sqlite_template._images.clear()
    yield
    sqlite_template._images.clear()
    sqlite_template._images.update(saved)


def _db(home: Path) -> Database:
    return Database(f"sqlite:///{home / 'fleetprompt.sqlite'}")


def _tenant_file(db: Database, slug: str) -> Path:
    backend = db.backend
    assert isinstance(backend, SqliteBackend)
    return backend.tenant_path(f"org_{slug}")


def _migrated_from_scratch(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        migrate.upgrade(conn, "tenant", None)
    engine.dispose()


def _shape(path: Path) -> dict[str, object]:
    """Everything that defines a file's schema: sqlite_master, revision, format pragmas."""
    with closing(sqlite3.connect(path)) as conn:
        return {
            "master": conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
            ).fetchall(),
            "revision": conn.execute("SELECT version_num FROM alembic_version").fetchall(),
            "pragmas": [
                conn.execute(f"PRAGMA {name}").fetchone()
                for name in ("page_size", "encoding", "user_version", "application_id")
            ],
        }


def _image_files(home: Path) -> list[str]:
    directory = sqlite_template.cache_dir(home / "fleetprompt.sqlite")
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_a_copied_tenant_has_exactly_the_schema_and_revision_of_a_migrated_one(
    tmp_path: Path,
) -> None:
    with _db(tmp_path / "home") as db:
        db.create_tenant("acme", actor="user:alice")
        copied = _shape(_tenant_file(db, "acme"))
        with db.tenant_session("acme", readonly=True) as session:
            assert session.execute(select(MemberRow.actor)).scalars().all() == ["user:alice"]
    _migrated_from_scratch(tmp_path / "scratch.sqlite")
    migrated = _shape(tmp_path / "scratch.sqlite")
    assert copied == migrated
    assert copied["revision"] == [(migrate.head("tenant"),)]
    assert len(copied["master"]) > 10  # type: ignore[arg-type]


def test_the_image_is_kept_on_disk_once_per_revision_next_to_the_host_file(
    tmp_path: Path,
) -> None:
    with _db(tmp_path / "home") as db:
        db.create_tenant("acme")
        db.create_tenant("beta")
        backend = db.backend
        assert isinstance(backend, SqliteBackend)
        assert sorted(p.name for p in backend.tenants_dir.iterdir()) == [
            "org_acme.sqlite",
            "org_beta.sqlite",
        ]
    assert _image_files(tmp_path / "home") == [f"tenant-{sqlite_template.template_key()}.sqlite"]
    assert sqlite_template.template_key().startswith(f"{migrate.head('tenant')}-")


def test_a_new_process_creates_tenants_from_the_image_on_disk_without_migrating(
    tmp_path: Path, fresh_process_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _db(tmp_path / "home") as db:
        db.create_tenant("acme")
    sqlite_template._images.clear()

    def no_migrations(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the migrations ran although an image is on disk")

    monkeypatch.setattr(migrate, "upgrade", no_migrations)
    with _db(tmp_path / "home") as db:
        info = db.create_tenant("beta", actor="user:bob")
        assert info.schema_revision == migrate.head("tenant")
        assert _shape(_tenant_file(db, "beta")) == _shape(_tenant_file(db, "acme"))


def _replace_with_foreign_database(path: Path) -> None:
    path.unlink()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        conn.execute("INSERT INTO alembic_version VALUES ('t0000')")
        conn.commit()


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda path: path.write_bytes(b"not a database" * 100), id="garbage"),
        pytest.param(lambda path: path.write_bytes(path.read_bytes()[:3000]), id="truncated-copy"),
        pytest.param(_replace_with_foreign_database, id="other-revision"),
    ],
)
def test_a_spoiled_image_on_disk_is_rebuilt_and_tenants_still_get_the_full_schema(
    tmp_path: Path, fresh_process_cache: None, spoil: object
) -> None:
    home = tmp_path / "home"
    with _db(home) as db:
        db.create_tenant("acme")
    [name] = _image_files(home)
    image = sqlite_template.cache_dir(home / "fleetprompt.sqlite") / name
    spoil(image)  # type: ignore[operator]
    sqlite_template._images.clear()
    with _db(home) as db:
        db.create_tenant("beta")
        assert _shape(_tenant_file(db, "beta")) == _shape(_tenant_file(db, "acme"))
    assert sqlite_template.is_valid(image.read_bytes())


def test_an_unwritable_cache_directory_does_not_fail_tenant_creation(
    tmp_path: Path, fresh_process_cache: None
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # A file where the cache directory should be: the image cannot be stored.
    sqlite_template.cache_dir(home / "fleetprompt.sqlite").write_text("in the way")
    with _db(home) as db:
        db.create_tenant("acme")
        with db.tenant_session("acme") as session:
            assert session.execute(select(MemberRow)).all() == []
