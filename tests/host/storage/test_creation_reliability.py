"""Tenant creation under concurrency and crashes, with real ``fleetprompt`` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleetprompt_host.storage import Database
from fleetprompt_host.storage.faults import PAUSE_ENV
from fleetprompt_host.storage.sqlite_backend import SqliteBackend


def _fleetprompt(
    db_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleetprompt_host", "--db", db_url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FLEETPROMPT_ACTOR": "user:alice", **(env or {})},
    )


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"process ended before pausing: {proc.returncode} {out} {err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"process did not reach the pause point within {timeout}s")
        time.sleep(0.02)


def _blocked_backends(db_url: str) -> int:
    """Count PostgreSQL sessions of the test database waiting for a lock."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(db_url, poolclass=NullPool)
    with engine.connect() as conn:
        count = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    engine.dispose()
    return int(count)


def test_two_processes_creating_one_tenant_exactly_one_succeeds(
    db_url: str, tmp_path: Path
) -> None:
    Database(db_url).close()  # host tables exist before the race starts
    marker = tmp_path / "paused"
    # The first creator pauses half-way with its transaction open, so the second one
    # starts while the first is still creating.
    first = _fleetprompt(
        db_url, "tenants", "create", "acme", env={PAUSE_ENV: f"tenant-create:{marker}"}
    )
    _wait_for(marker, first)
    second = _fleetprompt(db_url, "tenants", "create", "acme")
    if db_url.startswith("postgresql"):
        deadline = time.monotonic() + 60
        while _blocked_backends(db_url) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _blocked_backends(db_url) == 1, "the second creator must wait for the first"
    marker.unlink()  # let the first creator finish
    first_out, first_err = first.communicate(timeout=120)
    second_out, second_err = second.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert "created tenant acme" in first_out
    assert second.returncode == 4, second_out + second_err
    assert second_err.strip() == "error: tenant 'acme' already exists [tenant-exists]"


def test_concurrent_creations_of_one_slug_give_one_success_and_conflicts(db_url: str) -> None:
    Database(db_url).close()
    procs = [_fleetprompt(db_url, "tenants", "create", "acme") for _ in range(3)]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 4, 4], results
    for code, err in results:
        if code == 4:
            assert "[tenant-exists]" in err
    with Database(db_url) as database:
        assert [t.slug for t in database.list_tenants()] == ["acme"]


def test_a_creation_killed_half_way_leaves_nothing_that_blocks_a_retry(
    db_url: str, tmp_path: Path
) -> None:
    Database(db_url).close()
    marker = tmp_path / "paused"
    proc = _fleetprompt(
        db_url, "tenants", "create", "acme", env={PAUSE_ENV: f"tenant-create:{marker}"}
    )
    _wait_for(marker, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with Database(db_url) as database:
        assert database.list_tenants() == []
    retry = _fleetprompt(db_url, "tenants", "create", "acme", "--name", "Acme")
    _, err = retry.communicate(timeout=120)
    assert retry.returncode == 0, err
    with Database(db_url) as database:
        backend = database.backend
        if isinstance(backend, SqliteBackend):
            leftovers = sorted(p.name for p in backend.tenants_dir.iterdir())
            assert leftovers == ["org_acme.sqlite"]
        assert database.get_tenant("acme").display_name == "Acme"
        with database.tenant_session("acme", readonly=True) as session:
            from sqlalchemy import select

            from fleetprompt_host.storage.models import MemberRow

            assert session.execute(select(MemberRow.actor)).scalars().all() == ["user:alice"]
