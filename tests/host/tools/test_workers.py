"""The threads tool code runs on: reused, and never held up by a stuck job."""

from __future__ import annotations

import threading

from fleetprompt_host.tools.workers import WorkerPool


def _run(pool: WorkerPool) -> int:
    """Run one job to its end; return the id of the thread that ran it."""
    done = threading.Event()
    seen: list[int] = []

    def work() -> None:
        seen.append(threading.get_ident())
        done.set()

    pool.submit(work)
    assert done.wait(10)
    return seen[0]


def test_a_finished_worker_takes_the_next_job() -> None:
    pool = WorkerPool()
    first = _run(pool)
    assert pool.wait_for(workers=1, idle=1, timeout=10)

    second = _run(pool)

    assert first == second
    assert pool.wait_for(workers=1, idle=1, timeout=10)


def test_a_job_that_never_returns_does_not_hold_up_the_next_one() -> None:
    pool = WorkerPool()
    stuck = threading.Event()
    pool.submit(lambda: stuck.wait(10) and None)
    try:
        _run(pool)
        assert pool.counts()[0] == 2
    finally:
        stuck.set()
    assert pool.wait_for(workers=2, idle=2, timeout=10)


def test_an_error_escaping_a_job_leaves_the_worker_serving() -> None:
    pool = WorkerPool()

    def boom() -> None:
        raise RuntimeError("escaped")

    pool.submit(boom)
    assert pool.wait_for(workers=1, idle=1, timeout=10)

    _run(pool)

    assert pool.wait_for(workers=1, idle=1, timeout=10)


def test_an_idle_worker_ends_after_its_idle_time() -> None:
    pool = WorkerPool(idle_seconds=0.01)
    _run(pool)

    assert pool.wait_for(workers=0, idle=0, timeout=10)
