"""Fencing and wake-ups with real worker processes on PostgreSQL.

- A worker stopped (SIGSTOP) past its lease, whose directive another worker then ran to the
  end, cannot commit when it resumes (SIGCONT): one effect, and its attempt is recorded as
  superseded.
- An idle worker starts a newly requested directive on the NOTIFY sent at commit, far
  sooner than its poll interval.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from fleetprompt_host.storage import utcnow

if TYPE_CHECKING:
    from conftest import Lab

POLL_SECONDS = 30.0


def _holds_row_locks(lab: Lab) -> bool:
    """True when some session is stopped inside a lease-renewal transaction."""
    with lab.db.host_session() as session:
        found = session.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction' AND query ILIKE 'UPDATE%lease_expires_at%'"
            )
        ).scalar_one()
    return bool(found)


def _stop(lab: Lab, pid: int) -> None:
    """SIGSTOP ``pid`` outside a lease renewal (a frozen renewal would keep its row lock,
    which a real lost worker's connection would not do for long: TCP keepalives end it)."""
    for _ in range(50):
        os.kill(pid, signal.SIGSTOP)
        if not _holds_row_locks(lab):
            return
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError("could not stop the worker outside a renewal")


def test_a_worker_resumed_after_its_lease_was_taken_over_commits_nothing(
    pg_lab: Lab, wait_until: Callable[..., Any]
) -> None:
    lab = pg_lab
    started, gate = lab.tmp / "started", lab.tmp / "gate"
    started.mkdir()
    lab.request("fpwork.slow.run", [{"n": 1, "started": str(started), "gate": str(gate)}])
    first = lab.worker("--lease", "1")
    wait_until(lambda: list(started.iterdir()), what="the first worker's handler to start")

    _stop(lab, first.pid)
    wait_until(
        lambda: lab.directives("fpwork.slow.run")[0].lease_expires_at < utcnow(),
        what="the stopped worker's lease to expire",
    )
    gate.touch()
    second = lab.worker("--until-idle", "--idle-horizon", "0", "--lease", "30")
    assert lab.finish(second) == 0, lab.output(second)

    (row,) = lab.directives("fpwork.slow.run")
    assert (row.status, row.fencing_token, row.attempts) == ("succeeded", 2, 2)
    assert sorted(p.name for p in started.iterdir()) == sorted(
        [f"{first.pid}-1", f"{second.pid}-2"]
    )

    os.kill(first.pid, signal.SIGCONT)
    superseded = wait_until(
        lambda: [e for e in lab.executions("directive") if e.get("outcome") == "superseded"],
        what="the resumed attempt to be recorded as superseded",
    )
    first.send_signal(signal.SIGTERM)
    assert lab.finish(first, timeout=30) == 0, lab.output(first)

    assert lab.item_numbers() == [1]
    assert lab.signal_numbers("fpwork.slow.done") == [1]
    (stale,) = superseded
    assert stale["owner"].endswith(f":{first.pid}:0") and stale["fence"] == 1
    assert stale["error"]["code"] == "superseded"
    succeeded = [e for e in lab.executions("directive") if e.get("outcome") == "succeeded"]
    assert len(succeeded) == 1 and succeeded[0]["owner"].endswith(f":{second.pid}:0")
    assert lab.directives("fpwork.slow.run")[0].status == "succeeded"


def test_an_idle_worker_starts_new_work_on_notify_not_on_its_poll(
    pg_lab: Lab, wait_until: Callable[..., Any]
) -> None:
    lab = pg_lab
    clocks = lab.tmp / "clocks"
    clocks.mkdir()
    proc = lab.worker("--poll", str(POLL_SECONDS))
    lab.request("fpwork.noop", [{}])
    wait_until(lambda: lab.statuses() == {"succeeded": 1}, what="the worker to be up and idle")

    latencies = []
    for _ in range(5):
        requested = time.time()
        (directive_id,) = lab.request("fpwork.clock", [{"dir": str(clocks)}])
        mark = Path(clocks, directive_id)
        wait_until(lambda mark=mark: mark.exists() and mark.read_text(), timeout=POLL_SECONDS)
        latencies.append(float(mark.read_text()) - requested)

    proc.send_signal(signal.SIGTERM)
    assert lab.finish(proc, timeout=30) == 0
    # Far below the poll interval: the wake-up came from the notification.
    assert max(latencies) < POLL_SECONDS / 10, latencies
