"""Concurrency and crashes, with real ``fleetprompt`` processes on both backends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from fleetprompt_host.storage import Database, utcnow
from fleetprompt_host.storage.faults import PAUSE_ENV
from fleetprompt_host.storage.models import DirectiveRow, InstallationRow, RecordRow, SignalRow

FORUMS_RECORDS = [
    ("_agents", "forum_helper"),
    ("categories", "general"),
    ("posts", "welcome-1"),
    ("threads", "welcome"),
]


def _fleetprompt(
    db_url: str, home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleetprompt_host", "--db", db_url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "FLEETPROMPT_ACTOR": "user:alice",
            "FLEETPROMPT_HOME": str(home),
            **(env or {}),
        },
    )


def _wait_for(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _count(db: Database, stmt: object) -> int:
    with db.tenant_session("acme", readonly=True) as session:
        return int(session.execute(stmt).scalar_one())  # type: ignore[call-overload]


def _forums_records(db: Database) -> list[tuple[str, str]]:
    with db.tenant_session("acme", readonly=True) as session:
        rows = session.execute(
            select(RecordRow.collection, RecordRow.key)
            .where(RecordRow.package == "forums")
            .order_by(RecordRow.collection, RecordRow.key)
        ).all()
    return [(c, k) for c, k in rows]


def _lease_expired(db: Database) -> bool:
    with db.tenant_session("acme", readonly=True) as session:
        expires = session.execute(select(DirectiveRow.lease_expires_at)).scalar_one()
    return expires is not None and expires < utcnow()


def test_concurrent_installs_of_one_package_make_one_installation(
    db: Database, db_url: str, tenant: str, fp_home: Path
) -> None:
    procs = [
        _fleetprompt(db_url, fp_home, "install", "forums", "--tenant", "acme", "--wait")
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]

    assert [p.returncode for p in procs] == [0, 0, 0, 0], results
    assert _count(db, select(func.count()).select_from(InstallationRow)) == 1
    assert _count(db, select(func.count()).where(DirectiveRow.type == "package.install")) == 1
    for kind in ("requested", "completed"):
        signals = select(func.count()).where(SignalRow.type == f"package.install.{kind}")
        assert _count(db, signals) == 1
    assert _forums_records(db) == FORUMS_RECORDS


def test_a_worker_killed_during_an_install_is_finished_by_another_without_duplicates(
    db: Database, db_url: str, tenant: str, fp_home: Path, tmp_path: Path
) -> None:
    requested = _fleetprompt(db_url, fp_home, "install", "forums", "--tenant", "acme")
    assert requested.communicate(timeout=120)[0].count("requested") == 1
    marker = tmp_path / "paused"
    first = _fleetprompt(
        db_url,
        fp_home,
        "worker", "--tenant", "acme", "--lease", "1", "--poll", "0.05",
        env={PAUSE_ENV: f"package-install:{marker}"},
    )  # fmt: skip
    try:
        _wait_for(marker.exists)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert _forums_records(db) == []  # the killed attempt committed nothing
    _wait_for(lambda: _lease_expired(db))

    second = _fleetprompt(
        db_url, fp_home, "worker", "--tenant", "acme", "--until-idle", "--poll", "0.05",
        "--idle-horizon", "0",
    )  # fmt: skip
    _, err = second.communicate(timeout=120)

    assert second.returncode == 0, err
    with db.tenant_session("acme", readonly=True) as session:
        directive = session.execute(
            select(DirectiveRow).where(DirectiveRow.type == "package.install")
        ).scalar_one()
        assert (directive.status, directive.attempts) == ("succeeded", 2)
        row = session.execute(select(InstallationRow)).scalar_one()
        assert (row.status, row.version) == ("installed", "1.0.0")
    assert _forums_records(db) == FORUMS_RECORDS
    completed = select(func.count()).where(SignalRow.type == "package.install.completed")
    assert _count(db, completed) == 1


def test_an_inline_install_killed_midway_is_completed_by_running_the_command_again(
    db: Database, db_url: str, tenant: str, fp_home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "paused"
    first = _fleetprompt(
        db_url, fp_home, "install", "forums", "--tenant", "acme", "--wait",
        env={PAUSE_ENV: f"package-install:{marker}"},
    )  # fmt: skip
    try:
        _wait_for(marker.exists)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    # Time passes: the dead process's lease runs out.
    with db.tenant_session("acme") as session:
        session.execute(
            update(DirectiveRow).values(lease_expires_at=utcnow() - timedelta(minutes=5))
        )

    again = _fleetprompt(db_url, fp_home, "install", "forums", "--tenant", "acme", "--wait")
    out, err = again.communicate(timeout=120)

    assert again.returncode == 0, err
    assert "already requested" not in out and "succeeded" in out
    assert _forums_records(db) == FORUMS_RECORDS
    with db.tenant_session("acme", readonly=True) as session:
        attempts = session.execute(select(DirectiveRow.attempts)).scalar_one()
    assert attempts == 2
