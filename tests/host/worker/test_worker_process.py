"""``fleetprompt worker`` as a real process: running to idle, selecting tenants, stopping
gracefully on SIGTERM/SIGINT (idle, mid-run finishing, mid-run releasing)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Lab


def _summary(lab: Lab, proc: Any) -> dict[str, Any]:
    return dict(json.loads(lab.output(proc, ("out",))))


def _started(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_until_idle_runs_every_due_item_and_exits_zero(lab: Lab) -> None:
    lab.request("fpwork.item.process", [{"n": n} for n in range(10)])

    proc = lab.worker("--until-idle", "--idle-horizon", "0", "--concurrency", "2", "--json")

    assert lab.finish(proc) == 0, lab.output(proc)
    summary = _summary(lab, proc)
    assert summary["idle_exit"] is True
    # 10 directives, their 10 deliveries, and the 10 acks the deliveries requested.
    assert summary["outcomes"] == {
        "delivery.done": 10,
        "directive.succeeded": 20,
    }
    assert sorted(lab.item_numbers()) == list(range(10))
    assert lab.statuses() == {"succeeded": 20}


def test_a_worker_serves_only_the_tenants_it_was_given(lab: Lab) -> None:
    lab.add_tenant("beta")
    lab.request("fpwork.noop", [{}])
    lab.request("fpwork.noop", [{}], tenant="beta")

    proc = lab.worker("--tenant", "beta", "--until-idle", "--idle-horizon", "0")

    assert lab.finish(proc) == 0, lab.output(proc)
    assert lab.statuses("beta") == {"succeeded": 1}, lab.output(proc)
    assert lab.statuses("acme") == {"requested": 1}


def test_an_unknown_tenant_is_a_clear_error(lab: Lab) -> None:
    proc = lab.worker("--tenant", "nosuch", "--until-idle")

    assert lab.finish(proc) == 3
    assert "error: tenant 'nosuch' does not exist [tenant-not-found]" in lab.output(proc)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_an_idle_worker_promptly_with_exit_zero(
    lab: Lab, sig: signal.Signals, wait_until: Callable[..., Any]
) -> None:
    lab.request("fpwork.noop", [{}])
    proc = lab.worker("--poll", "30")
    wait_until(lambda: lab.statuses() == {"succeeded": 1}, what="the worker to be running")

    started = time.monotonic()
    proc.send_signal(sig)

    assert lab.finish(proc, timeout=10) == 0, lab.output(proc)
    assert time.monotonic() - started < 5
    assert "worker stopped: ran 1" in lab.output(proc)


def test_sigterm_during_a_run_lets_it_finish_then_exits_zero(
    lab: Lab, wait_until: Callable[..., Any]
) -> None:
    started, gate = lab.tmp / "started", lab.tmp / "gate"
    started.mkdir()
    lab.request("fpwork.slow.run", [{"n": 1, "started": str(started), "gate": str(gate)}])
    proc = lab.worker("--lease", "2")
    wait_until(lambda: _started(started), what="the handler to start")

    proc.send_signal(signal.SIGTERM)
    gate.touch()

    assert lab.finish(proc, timeout=30) == 0, lab.output(proc)
    (row,) = lab.directives("fpwork.slow.run")
    assert (row.status, row.lease_owner) == ("succeeded", None)
    assert lab.item_numbers() == [1]


def test_sigterm_releases_work_claimed_but_not_started(
    lab: Lab, wait_until: Callable[..., Any]
) -> None:
    started, gate = lab.tmp / "started", lab.tmp / "gate"
    started.mkdir()
    lab.request("fpwork.slow.run", [{"n": 1, "started": str(started), "gate": str(gate)}])
    lab.request("fpwork.noop", [{"i": i} for i in range(3)])
    proc = lab.worker("--batch", "10")
    wait_until(lambda: _started(started), what="the handler to start")
    assert lab.statuses() == {"running": 4}, "the whole batch is claimed"

    proc.send_signal(signal.SIGTERM)
    gate.touch()

    assert lab.finish(proc, timeout=30) == 0, lab.output(proc)
    rows = lab.directives("fpwork.noop")
    assert {(r.status, r.lease_owner, r.attempts) for r in rows} == {("requested", None, 0)}
    assert lab.directives("fpwork.slow.run")[0].status == "succeeded"


def test_a_run_outlasting_the_shutdown_grace_is_released_and_done_once_later(
    pg_lab: Lab, wait_until: Callable[..., Any]
) -> None:
    lab = pg_lab
    started, gate = lab.tmp / "started", lab.tmp / "gate"
    started.mkdir()
    lab.request("fpwork.slow.run", [{"n": 1, "started": str(started), "gate": str(gate)}])
    proc = lab.worker("--shutdown-grace", "0.5")
    wait_until(lambda: _started(started), what="the handler to start")

    proc.send_signal(signal.SIGTERM)

    assert lab.finish(proc, timeout=30) == 0, lab.output(proc)
    (row,) = lab.directives("fpwork.slow.run")
    assert (row.status, row.lease_owner, row.lease_expires_at) == ("requested", None, None)
    assert lab.item_numbers() == []

    gate.touch()
    again = lab.worker("--until-idle", "--idle-horizon", "0")
    assert lab.finish(again) == 0, lab.output(again)
    assert lab.item_numbers() == [1]
    assert lab.directives("fpwork.slow.run")[0].status == "succeeded"
