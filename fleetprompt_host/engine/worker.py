"""The worker loop: take fair turns across tenants, claim a batch, run it, repeat.

One :class:`Worker` runs ``concurrency`` threads, each with its own :class:`Database`
(its own connections) and its own :class:`~.heartbeat.Heartbeat`. A thread:

1. picks a turn (:func:`.scheduler.pick`): the least recently served tenant with due work;
2. claims at most ``batch_size`` items of that tenant (:func:`.claims.claim_batch`), or up
   to ``max_batch`` while the tenant's turns finish within ``FAST_TURN_SECONDS``
   (:class:`.worker_options.BatchSizes`)
   (a turn is bounded by time rather than by count: short work is claimed in bulk, slow
   work a few items at a time, so no worker hoards what others could run);
3. runs the items one by one through the executor (by default the engine's runner, which
   commits only while the item's fencing token is still current), filing the tenant's
   next due time (:func:`.scheduler.settle_now`) once the first item is done;
4. when nothing is due, sleeps until a wake-up (:mod:`.wakeup`), the next due time or the
   poll interval, whichever comes first; woken by a notification naming a tenant, it
   claims that tenant's work straight away.

Stopping (:meth:`Worker.stop`, SIGTERM, SIGINT): threads stop taking work, finish the item
they are running and release the rest of their batch. If an item is still running when the
shutdown grace period ends, its lease is released too (the fence then refuses its commit)
and the worker exits anyway. With ``until_idle`` the worker exits once no thread is busy
and nothing is due within ``idle_horizon`` seconds.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from fleetprompt_sdk.errors import NotFoundError

from ..storage import Database, utcnow
from . import scheduler
from .claims import ClaimedWork, claim_batch, release
from .executor import Executor, engine_executor
from .group_runner import window
from .heartbeat import Heartbeat
from .wakeup import Wakeups
from .worker_options import BatchSizes, WorkerOptions, WorkerStats

log = logging.getLogger("fleetprompt.worker")

#: With ``until_idle``, how often an idle thread looks again for work or for the end.
UNTIL_IDLE_RECHECK_SECONDS = 0.2
#: After the shutdown grace, how long releasing the work still held may take.
ABANDON_RELEASE_SECONDS = 5.0
#: Back-off after a tenant could not be served (database error, outdated schema).
TROUBLE_BACKOFF = timedelta(seconds=5)


class Worker:
    """A pool of worker threads serving the due work of some or all tenants."""

    def __init__(
        self, url: str | None, options: WorkerOptions, executor: Executor | None = None
    ) -> None:
        if options.concurrency < 1 or options.batch_size < 1 or options.lease_seconds <= 0:
            raise ValueError("concurrency, batch size and lease must be positive")
        self.options = options
        self._url = url
        self._executor = executor
        self._control = Database(url)
        self.url = self._control.url
        tenants = options.tenants
        self._tenants = None if tenants is None else tuple(dict.fromkeys(tenants))
        sqlite = self._control.dialect == "sqlite"
        self._poll = options.poll_seconds or (0.2 if sqlite else 5.0)
        self._lease = timedelta(seconds=options.lease_seconds)
        self._name = options.name or f"{socket.gethostname()}:{os.getpid()}"
        self._wakeups = Wakeups(self._control, self._tenants)
        self.stopping = threading.Event()
        self.stats = WorkerStats()
        self._lock = threading.Lock()
        self._active = 0
        self._threads: list[threading.Thread] = []
        self._heartbeats: list[Heartbeat] = []
        self._started = threading.Event()
        self._grace_ends: float | None = None
        self._batches = BatchSizes(options.batch_size, options.max_batch)

    @property
    def name(self) -> str:
        """This worker's name (host:pid); thread ``i`` claims as ``name:i``."""
        return self._name

    @property
    def masked_url(self) -> str:
        """The database URL with its password masked."""
        return self._control.masked_url

    # -- control ------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the threads to stop after the item they are running (safe from any thread)."""
        self.stopping.set()
        self._wakeups.waker.kick()

    def wait_started(self, timeout: float = 10.0) -> bool:
        """Return once every thread is connected and running (for embedding and tests)."""
        return self._started.wait(timeout)

    def run(
        self, *, handle_signals: bool = True, on_ready: Callable[[], None] | None = None
    ) -> WorkerStats:
        """Run until stopped (or idle, with ``until_idle``); return what was done.

        ``on_ready`` is called once every thread is connected and notifications are
        listened for: from then on, new work is picked up at once.
        """
        if self._executor is None:
            self._executor = engine_executor()
        previous = self._install_signals() if handle_signals else {}
        self._wakeups.start()
        try:
            for index in range(self.options.concurrency):
                thread = threading.Thread(
                    target=self._thread_main, args=(index,), name=f"fp-worker-{index}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._join(on_ready)
        finally:
            self._wakeups.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._control.close()
        return self.stats

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}
        for sig in (signal.SIGTERM, signal.SIGINT):

            def handler(signum: int, frame: Any) -> None:
                if self.stopping.is_set():
                    self._grace_ends = time.monotonic()  # a second signal: stop now
                log.info("stopping on signal %s", signal.Signals(signum).name)
                self.stop()

            previous[sig] = signal.signal(sig, handler)
        return previous

    def _join(self, on_ready: Callable[[], None] | None) -> None:
        while any(t.is_alive() for t in self._threads):
            for thread in self._threads:
                thread.join(0.05)
            if on_ready is not None and self._started.is_set():
                on_ready()
                on_ready = None
            if not self.stopping.is_set():
                continue
            if self._grace_ends is None:
                self._grace_ends = time.monotonic() + self.options.shutdown_grace_seconds
            if time.monotonic() >= self._grace_ends:
                self._abandon()
                return

    def _abandon(self) -> None:
        """The grace period is over: release whatever is still held, fenced, and leave.

        A release waits for the tenant's write lock on SQLite, which a run still in
        progress holds: it is given :data:`ABANDON_RELEASE_SECONDS`, after which the
        worker leaves anyway and the leases simply expire.
        """

        def release_all() -> None:
            for heartbeat in list(self._heartbeats):
                heartbeat.stop()
                by_tenant: dict[str, list[ClaimedWork]] = {}
                for item in heartbeat.held():
                    by_tenant.setdefault(item.tenant, []).append(item)
                for tenant, items in by_tenant.items():
                    try:
                        self.stats.released += release(self._control, tenant, items, ran=True)
                    except Exception as error:
                        log.warning("could not release work of %s: %s", tenant, error)

        releaser = threading.Thread(target=release_all, name="fp-release", daemon=True)
        releaser.start()
        releaser.join(ABANDON_RELEASE_SECONDS)
        log.warning("shutdown grace period over: work still running was released")

    # -- one thread ---------------------------------------------------------------------

    def _thread_main(self, index: int) -> None:
        owner = f"{self._name}:{index}"
        db = Database(self._url)
        heartbeat = Heartbeat(db, self._lease, name=f"fp-heartbeat-{index}")
        with self._lock:
            self._heartbeats.append(heartbeat)
            if len(self._heartbeats) == self.options.concurrency:
                self._started.set()
        try:
            while not self.stopping.is_set():
                ticket = self._wakeups.waker.ticket()
                with self._lock:
                    self._active += 1
                turn = self._pick(db)
                if turn is None:
                    if self._idle(db, ticket):
                        self._serve_notified(db, heartbeat, owner)
                    continue
                try:
                    self._serve(db, heartbeat, owner, turn.tenant, turn)
                finally:
                    with self._lock:
                        self._active -= 1
        except Exception:
            log.exception("worker thread %s failed", owner)
            self.stop()
        finally:
            heartbeat.stop()
            db.close()

    def _pick(self, db: Database) -> scheduler.Turn | None:
        try:
            return scheduler.pick(db, self._tenants)
        except Exception as error:
            log.warning("cannot read the work index: %s", error)
            time.sleep(0.5)
            return None

    def _serve_notified(self, db: Database, heartbeat: Heartbeat, owner: str) -> None:
        """Woken from idle by a notification: claim that tenant's work at once.

        Skipping the turn is fair here: this thread was idle, so no tenant was waiting.
        """
        tenant = self._wakeups.waker.take_hot()
        if tenant is None or self.stopping.is_set():
            return
        with self._lock:
            self._active += 1
        try:
            self._serve(db, heartbeat, owner, tenant, None)
        finally:
            with self._lock:
                self._active -= 1

    def _idle(self, db: Database, ticket: int) -> bool:
        """Nothing to pick: maybe exit (until_idle), else sleep until a wake-up.

        Returns True when a kick (a notification) ended the sleep.
        """
        try:
            upcoming = scheduler.next_wakeup(db, self._tenants)
        except Exception:
            upcoming = None
        now = utcnow()
        with self._lock:
            self._active -= 1
            horizon = now + timedelta(seconds=self.options.idle_horizon_seconds)
            if (
                self.options.until_idle
                and self._active == 0
                and (upcoming is None or upcoming > horizon)
            ):
                self.stats.idle_exit = True
                self.stop()
                return False
        timeout = self._poll
        if self.options.until_idle:
            # Work held by another worker ends without a notification: look again soon.
            timeout = min(timeout, UNTIL_IDLE_RECHECK_SECONDS)
        if upcoming is not None:
            timeout = min(timeout, max(0.005, (upcoming - now).total_seconds()))
        return self._wakeups.waker.wait(ticket, timeout)

    def _serve(
        self,
        db: Database,
        heartbeat: Heartbeat,
        owner: str,
        tenant: str,
        turn: scheduler.Turn | None,
    ) -> None:
        """Claim a batch of ``tenant`` and run it; ``turn`` None: claimed without a turn."""
        limit = self._batches.get(tenant)
        began = time.monotonic()
        try:
            batch = claim_batch(
                db,
                tenant,
                owner,
                limit=limit,
                lease=self._lease,
                next_due_if_claimed=False,
            )
        except NotFoundError:
            scheduler.forget(db, tenant)
            return
        except Exception as error:
            log.warning("cannot claim work of tenant %s: %s", tenant, error)
            if turn is not None:
                self._postpone(db, turn)
            return
        if not batch.items:
            if turn is not None:
                self._file(db, lambda: scheduler.settle(db, turn, batch.next_due))
            return
        heartbeat.hold(batch.items)
        pending = list(batch.items)
        # The first item starts at once; only then is the tenant's next due time computed
        # and filed (meanwhile the tenant merely looks due to other workers).
        settled, due, leased = False, None, False
        try:
            while pending and not self.stopping.is_set():
                item = pending[0]
                if heartbeat.is_lost(item):
                    heartbeat.drop(pending.pop(0))
                    continue
                group = self._group(pending, heartbeat)
                if len(group) > 1:
                    for done in self._execute_group(db, group):
                        heartbeat.drop(done)
                        pending.remove(done)
                else:
                    self._execute(db, pending.pop(0))
                    heartbeat.drop(item)
                if not settled:
                    settled, leased = True, bool(pending)
                    due = self._file(db, lambda: self._settle_now(db, tenant, turn))
        finally:
            if pending:
                for item in pending:
                    heartbeat.drop(item)
                self._release(db, tenant, pending)
            # Filed while the rest of the batch was leased, the due time may be one of
            # those leases: recompute it, or the tenant would look due (and an until_idle
            # worker busy) until the leases expire although the work is done.
            if not settled or (leased and (due is None or due > utcnow())):
                self._file(db, lambda: scheduler.refresh(db, tenant, create=False))
            self._batches.record(tenant, limit, len(batch.items), time.monotonic() - began)

    def _settle_now(self, db: Database, tenant: str, turn: scheduler.Turn | None) -> Any:
        turn = turn or scheduler.current_turn(db, tenant)
        return None if turn is None else scheduler.settle_now(db, turn)

    def _file(self, db: Database, update_index: Callable[[], Any]) -> Any:
        """Update the work index; on failure the tenant stays due and a later turn files it."""
        try:
            return update_index()
        except Exception as error:
            log.warning("cannot update the work index: %s", error)
            return None

    def _group(self, pending: list[ClaimedWork], heartbeat: Heartbeat) -> list[ClaimedWork]:
        """The directives at the head of ``pending`` that may run as one group."""
        if self.options.group_seconds <= 0 or getattr(self._executor, "run_group", None) is None:
            return pending[:1]
        group: list[ClaimedWork] = []
        for item in pending:
            if item.kind != "directive" or heartbeat.is_lost(item):
                break
            group.append(item)
        return group or pending[:1]

    def _execute_group(self, db: Database, group: list[ClaimedWork]) -> list[ClaimedWork]:
        """Run a prefix of ``group`` in one transaction; return the items it ran."""
        within = window(self.options.group_seconds)

        def keep_going() -> bool:
            return within() and not self.stopping.is_set()

        results: list[str | Exception | None]
        try:
            results = self._executor.run_group(db, group, keep_going)  # type: ignore[union-attr]
        except Exception:
            # Nothing of the group committed: its leases expire and it runs again.
            log.exception("%d directives of tenant %s failed together", len(group), group[0].tenant)
            results = ["error"] * len(group)
        ran = group[: len(results)]
        for item, result in zip(ran, results, strict=True):
            if isinstance(result, Exception):
                log.error("directive %s of tenant %s failed: %s", item.id, item.tenant, result)
                result = "error"
            with self._lock:
                self.stats.outcomes[(item.kind, result or "done")] += 1
        return ran

    def _execute(self, db: Database, item: ClaimedWork) -> str:
        assert self._executor is not None
        try:
            outcome = self._executor(db, item) or "done"
        except Exception:
            log.exception(
                "%s %s of tenant %s failed in the worker", item.kind, item.id, item.tenant
            )
            outcome = "error"
        with self._lock:
            self.stats.outcomes[(item.kind, outcome)] += 1
        return outcome

    def _release(self, db: Database, tenant: str, items: Sequence[ClaimedWork]) -> None:
        try:
            count = release(db, tenant, items)
        except Exception as error:
            log.warning("could not release work of %s (its leases will expire): %s", tenant, error)
            return
        with self._lock:
            self.stats.released += count

    def _postpone(self, db: Database, turn: scheduler.Turn) -> None:
        try:
            scheduler.settle(db, turn, utcnow() + TROUBLE_BACKOFF)
        except Exception as error:
            log.warning("cannot update the work index: %s", error)
