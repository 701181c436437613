"""The threads tool code runs on: reused between calls, replaced when one is abandoned.

A tool's code runs off the caller's thread so that the caller can stop waiting for it
when its timeout passes (a thread cannot be interrupted; a timed-out tool keeps its
thread until its code returns, and its outcome is ignored). Starting a thread per call
costs several times more than handing work to one that is already waiting, so finished
workers wait for the next job (for :data:`IDLE_SECONDS`, then end), and a job starts a
new thread whenever every worker is busy (for example with an abandoned call), so one
stuck tool never delays another.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable

#: Seconds an idle worker waits for work before it ends.
IDLE_SECONDS = 30.0

Job = Callable[[], None]


class WorkerPool:
    """Runs jobs on reused daemon threads; a job reports its own outcome.

    Workers share one queue. ``idle`` counts the workers waiting that no job has claimed
    yet: a submitted job claims one, or starts a new worker when none is left. A worker
    counts itself idle again only after its job is done, so a caller that submits again
    the moment it sees a result may start a second worker; from then on the two take
    turns, and neither ends while work keeps coming.
    """

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._idle = 0
        self._workers = 0

    def submit(self, job: Job) -> None:
        """Run ``job`` on an idle worker, or on a new one when none is idle."""
        with self._lock:
            spawn = self._idle == 0
            if spawn:
                self._workers += 1
            else:
                self._idle -= 1
        self._jobs.put(job)
        if spawn:
            threading.Thread(target=self._work, name="fleetprompt-tool", daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    # An idle count of zero means a submitter claimed this worker just
                    # now: its job is on the way, so keep waiting.
                    if self._idle > 0:
                        self._idle -= 1
                        self._workers -= 1
                        self._lock.notify_all()
                        return
                continue
            # A job reports its own outcome; an error escaping one must not end the worker.
            with contextlib.suppress(Exception):
                job()
            del job
            with self._lock:
                self._idle += 1
                self._lock.notify_all()

    def counts(self) -> tuple[int, int]:
        """Return (workers, idle workers)."""
        with self._lock:
            return self._workers, self._idle

    def wait_for(self, workers: int, idle: int, timeout: float) -> bool:
        """Wait until there are ``workers`` workers, ``idle`` of them idle; False on timeout."""
        with self._lock:
            return self._lock.wait_for(
                lambda: (self._workers, self._idle) == (workers, idle), timeout
            )

    def _forget(self) -> None:
        # A forked child has none of its parent's threads: start afresh.
        self._jobs = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._idle = 0
        self._workers = 0


#: The process's tool workers.
POOL = WorkerPool()
os.register_at_fork(after_in_child=POOL._forget)
