"""Migrations: models and migrations agree; upgrades resume and report failing tenants."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import BLANK_SCHEMA, MetaData, create_engine, update

from fleetprompt_host.storage import Database, HostBase, TenantBase, migrate
from fleetprompt_host.storage import models as _models  # noqa: F401 - registers every table
from fleetprompt_host.storage.models import TenantRow
from fleetprompt_host.storage.registry import fetch_tenant
from fleetprompt_host.storage.sqlite_backend import SqliteBackend
from fleetprompt_host.storage.upgrades import TenantUpgrade, status, upgrade_all

HEAD = migrate.head("tenant")
EXTRA_REVISION = '''
"""Test-only revision: one more table."""
import sqlalchemy as sa
from alembic import op
from fleetprompt_host.migrations.helpers import current_schema

revision = "t9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("extra", sa.Column("id", sa.Integer, primary_key=True), schema=current_schema())


def downgrade() -> None:
    op.drop_table("extra", schema=current_schema())
'''


@pytest.fixture
def extra_versions(tmp_path: Path) -> Iterator[str]:
    """A version directory holding revision ``t9999`` on top of the tenant head."""
    directory = tmp_path / "extra_versions"
    directory.mkdir()
    (directory / "t9999_extra.py").write_text(EXTRA_REVISION.replace("{head}", HEAD))
    yield str(directory)


def _retarget(metadata: MetaData, schema: str | None) -> MetaData:
    copy = MetaData(naming_convention=metadata.naming_convention)
    referred = BLANK_SCHEMA if schema is None else schema
    for table in metadata.tables.values():
        table.to_metadata(copy, schema=schema, referred_schema_fn=lambda *_: referred)
    return copy


def _differences(
    db: Database, metadata: MetaData, schema: str | None, path: Path | None
) -> list[object]:
    engine = db.backend.host_engine if path is None else create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_schemas": schema is not None,
                "include_name": lambda name, kind, _parent: (
                    name == schema if kind == "schema" else name != "alembic_version"
                ),
            },
        )
        return list(compare_metadata(context, _retarget(metadata, schema)))


def test_tenant_and_host_migrations_create_exactly_the_models(db: Database) -> None:
    db.create_tenant("acme")
    backend = db.backend
    if isinstance(backend, SqliteBackend):
        tenant = _differences(db, TenantBase.metadata, None, backend.tenant_path("org_acme"))
        host = _differences(db, HostBase.metadata, None, backend.host_path)
    else:
        tenant = _differences(db, TenantBase.metadata, "org_acme", None)
        host = _differences(db, HostBase.metadata, "fleetprompt", None)
    assert tenant == []
    assert host == []


def _break(db: Database, slug: str) -> None:
    """Make the next migration of ``slug`` fail: its ``extra`` table already exists."""
    backend = db.backend
    if isinstance(backend, SqliteBackend):
        with sqlite3.connect(backend.tenant_path(f"org_{slug}")) as conn:
            conn.execute("CREATE TABLE extra (id INTEGER)")
    else:
        with backend.host_transaction() as conn:
            conn.exec_driver_sql(f"CREATE TABLE org_{slug}.extra (id int)")


def test_upgrade_reports_a_failing_tenant_and_upgrades_the_others(
    db: Database, extra_versions: str
) -> None:
    for slug in ("acme", "beta", "gamma"):
        db.create_tenant(slug)
    _break(db, "beta")
    report = upgrade_all(db, extra_locations=[extra_versions])
    outcome = {t.slug: (t.after, t.ok) for t in report.tenants}
    assert outcome == {
        "acme": ("t9999", True),
        "beta": (HEAD, False),
        "gamma": ("t9999", True),
    }
    assert "extra" in str(report.failed[0].error)
    by_slug = {t.slug: t for t in db.list_tenants()}
    assert by_slug["acme"].schema_revision == "t9999"
    assert by_slug["beta"].schema_revision == HEAD
    assert by_slug["beta"].last_error and "extra" in by_slug["beta"].last_error


def test_an_interrupted_upgrade_resumes_with_the_remaining_tenants(
    db: Database, extra_versions: str
) -> None:
    for slug in ("acme", "beta", "gamma"):
        db.create_tenant(slug)
    seen: list[str] = []

    def interrupt_after_first(result: TenantUpgrade) -> None:
        seen.append(result.slug)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        upgrade_all(db, extra_locations=[extra_versions], on_tenant=interrupt_after_first)
    assert seen == ["acme"]
    report = upgrade_all(db, extra_locations=[extra_versions])
    assert [t.slug for t in report.tenants] == ["beta", "gamma"]
    assert all(t.ok for t in report.tenants)
    assert upgrade_all(db, extra_locations=[extra_versions]).tenants == []


def test_status_lists_stragglers(db: Database) -> None:
    db.create_tenant("acme")
    db.create_tenant("beta")
    with db.backend.host_transaction() as conn:
        conn.execute(update(TenantRow).where(TenantRow.slug == "beta").values(schema_revision=None))
    data = status(db)
    assert data["host"]["current"] is True
    assert data["stragglers"] == ["beta"]
    assert [(t["slug"], t["current"]) for t in data["tenants"]] == [("acme", True), ("beta", False)]


def test_a_tenant_behind_head_is_refused_a_session_until_upgraded(db: Database) -> None:
    from fleetprompt_sdk.errors import StorageError

    db.create_tenant("acme")
    with db.backend.host_transaction() as conn:
        row = fetch_tenant(conn, "acme")
        assert row is not None
        db.backend.migrate_tenant(conn, row, "base", downgrade=True)
        conn.execute(update(TenantRow).where(TenantRow.slug == "acme").values(schema_revision=None))
    db.forget_tenant_engine("acme")
    with pytest.raises(StorageError) as info, db.tenant_session("acme"):
        pass
    assert info.value.code == "tenant-outdated"
    report = upgrade_all(db)
    assert [(t.slug, t.before, t.after) for t in report.tenants] == [("acme", None, HEAD)]
    with db.tenant_session("acme", readonly=True):
        pass
