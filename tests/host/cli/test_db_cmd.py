"""``fleetprompt db`` and ``fleetprompt info``: upgrades, status, retention, masked URLs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from fleetprompt_host.storage import Database, migrate
from fleetprompt_host.storage.models import TenantRow
from fleetprompt_host.storage.registry import fetch_tenant
from fleetprompt_host.storage.sqlite_backend import SqliteBackend
from fleetprompt_host.testing.cli import Cli


@pytest.fixture
def fp(db_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """``fleetprompt --db URL`` acting as alice."""
    return Cli(capsys, db_url)


def _set_back(db: Database, slug: str) -> None:
    """Take ``slug``'s schema back to nothing, as if it predated every migration."""
    with db.backend.host_transaction() as conn:
        row = fetch_tenant(conn, slug)
        assert row is not None
        db.backend.migrate_tenant(conn, row, "base", downgrade=True)
        conn.execute(update(TenantRow).where(TenantRow.slug == slug).values(schema_revision=None))


def _break(db: Database, slug: str) -> None:
    """Make ``slug``'s storage unusable so its upgrade fails."""
    backend = db.backend
    if isinstance(backend, SqliteBackend):
        backend.tenant_path(f"org_{slug}").write_bytes(b"this is not a database" * 100)
    else:
        with backend.host_transaction() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA org_{slug} CASCADE")


def test_upgrade_brings_stragglers_to_head_and_reports_a_failing_tenant(
    fp: Cli, db_url: str
) -> None:
    for slug in ("acme", "beta", "gamma"):
        assert fp("tenants", "create", slug).code == 0
    with Database(db_url) as db:
        for slug in ("acme", "beta"):
            _set_back(db, slug)
        _break(db, "beta")
    status = fp("db", "status", "--json").json()
    assert status["stragglers"] == ["acme", "beta"]
    result = fp("db", "upgrade")
    assert result.code == 1
    assert "upgrading tenants" in result.err
    assert "error: tenant 'beta':" in result.err
    assert "1 upgraded" in result.out and "1 failed" in result.out
    status = fp("db", "status", "--json").json()
    assert status["stragglers"] == ["beta"]
    beta = next(t for t in status["tenants"] if t["slug"] == "beta")
    assert beta["last_error"]
    text = fp("db", "status").out
    assert "straggler beta" in text


def test_upgrade_with_nothing_to_do_succeeds(fp: Cli) -> None:
    fp("tenants", "create", "acme")
    result = fp("db", "upgrade")
    assert result.code == 0, result.err
    assert "0 upgraded" in result.out and "0 failed" in result.out


def test_status_json_reports_host_and_tenant_revisions(fp: Cli) -> None:
    fp("tenants", "create", "acme")
    data = fp("db", "status", "--json").json()
    assert data["host"] == {
        "revision": migrate.head("host"),
        "head": migrate.head("host"),
        "current": True,
    }
    assert [(t["slug"], t["revision"]) for t in data["tenants"]] == [
        ("acme", migrate.head("tenant"))
    ]
    assert data["stragglers"] == []


def test_prune_signals_needs_yes_when_not_interactive(fp: Cli) -> None:
    fp("tenants", "create", "acme")
    refused = fp("db", "prune-signals", "--tenant", "acme", "--older-than", "30")
    assert refused.code == 2
    done = fp("db", "prune-signals", "--tenant", "acme", "--older-than", "30", "--yes")
    assert done.code == 0, done.err
    assert done.out.strip() == "deleted 0 signals from acme"


def test_info_prints_the_database_url_with_the_password_masked(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if db_url.startswith("postgresql"):
        # Trust authentication ignores the password, so the URL still works.
        url = db_url.replace("postgres@", "postgres:s3cret-pw@", 1)
    else:
        url = db_url
    fp = Cli(capsys, url)
    text = fp("info")
    assert text.code == 0, text.err
    assert "s3cret-pw" not in text.out
    data = fp("info", "--json").json()
    assert data["host_revision"] == migrate.head("host")
    assert data["tenants"] == 0
    if db_url.startswith("postgresql"):
        assert ":***@" in data["database"]


def test_default_database_is_sqlite_under_fleetprompt_home(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FLEETPROMPT_DATABASE_URL"}
    env["FLEETPROMPT_HOME"] = str(tmp_path / "home")
    out = subprocess.run(
        [sys.executable, "-m", "fleetprompt_host", "info", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    import json

    data = json.loads(out)
    assert data["home"] == str(tmp_path / "home")
    assert data["database"] == f"sqlite:///{tmp_path / 'home' / 'fleetprompt.sqlite'}"
    assert (tmp_path / "home" / "fleetprompt.sqlite").exists()
