"""Waking idle workers: LISTEN/NOTIFY on PostgreSQL, short polling on SQLite.

On PostgreSQL every mark (:func:`fleetprompt_host.engine.scheduler.mark_due`) runs
``pg_notify('fleetprompt_work', <tenant>)`` in the transaction that creates the work, so
the notification is sent when, and only if, that work commits. One listener thread per
worker process holds a dedicated connection that LISTENs and kicks the process's
:class:`Waker`; an idle worker thread therefore starts within milliseconds of the commit.
The poll interval remains as a safety net (a dropped listener connection, a notification
lost while reconnecting).

SQLite has no notifications: workers poll the host work index at a short interval, and a
mark made in the same process kicks the waker directly.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Collection
from typing import Any

from ..storage import Database
from . import scheduler

CHANNEL = "fleetprompt_work"
#: How long the listener blocks before checking whether it should stop.
LISTEN_TICK_SECONDS = 0.5
#: Wait before reconnecting a failed listener connection.
RECONNECT_SECONDS = 1.0
#: How many tenants named by notifications a waker remembers.
HOT_TENANTS = 256

log = logging.getLogger(__name__)


class Waker:
    """Lets worker threads sleep until work may be due (a kick) or a timeout.

    Take a :meth:`ticket` *before* looking for work and pass it to :meth:`wait`: a kick
    that arrives in between makes the wait return at once, so no wake-up is lost.
    """

    def __init__(self, tenants: Collection[str] | None = None) -> None:
        self._tenants = None if tenants is None else frozenset(tenants)
        self._cond = threading.Condition()
        self._count = 0
        #: Tenants named by recent kicks, oldest first (see :meth:`take_hot`).
        self._hot: deque[str] = deque(maxlen=HOT_TENANTS)

    def ticket(self) -> int:
        """Return the current kick count."""
        with self._cond:
            return self._count

    def kick(self, tenant: str | None = None) -> None:
        """Wake every waiting thread (ignored for a tenant this worker does not serve)."""
        if tenant is not None and self._tenants is not None and tenant not in self._tenants:
            return
        with self._cond:
            self._count += 1
            if tenant is not None and tenant not in self._hot:
                self._hot.append(tenant)
            self._cond.notify_all()

    def take_hot(self) -> str | None:
        """Return (and forget) the oldest tenant a kick named, if any."""
        with self._cond:
            return self._hot.popleft() if self._hot else None

    def wait(self, ticket: int, timeout: float) -> bool:
        """Sleep until a kick newer than ``ticket`` or ``timeout`` seconds; True if kicked."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count != ticket, timeout=max(0.0, timeout))


class PostgresListener:
    """A thread that LISTENs on :data:`CHANNEL` and kicks a :class:`Waker`."""

    def __init__(self, db: Database, waker: Waker) -> None:
        self._url: Any = db.backend.url  # type: ignore[attr-defined]
        self._waker = waker
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fp-listener", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        """Start listening; return once LISTEN is in effect (or ``timeout`` passed)."""
        self._thread.start()
        self._ready.wait(timeout)

    def stop(self) -> None:
        """Stop the thread (it notices within :data:`LISTEN_TICK_SECONDS`)."""
        self._stop.set()
        self._thread.join(LISTEN_TICK_SECONDS * 4)

    def _connect(self) -> Any:
        import psycopg

        conninfo = self._url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = psycopg.connect(conninfo, autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except Exception as error:
                log.warning("cannot listen for work notifications: %s", error)
                self._ready.set()
                self._stop.wait(RECONNECT_SECONDS)
                continue
            self._ready.set()
            # Anything committed while we were not listening has not been announced.
            self._waker.kick()
            try:
                while not self._stop.is_set():
                    for note in conn.notifies(timeout=LISTEN_TICK_SECONDS):
                        self._waker.kick(note.payload or None)
            except Exception as error:
                if not self._stop.is_set():
                    log.warning("work notification listener lost its connection: %s", error)
                    self._stop.wait(RECONNECT_SECONDS)
            finally:
                conn.close()


class Wakeups:
    """The wake-up machinery of one worker process: a waker plus its source of kicks."""

    def __init__(self, db: Database, tenants: Collection[str] | None = None) -> None:
        self.waker = Waker(tenants)
        self._listener = PostgresListener(db, self.waker) if db.dialect == "postgresql" else None

    def start(self) -> None:
        """Begin listening (PostgreSQL) or accept in-process kicks (SQLite)."""
        if self._listener is not None:
            self._listener.start()
        else:
            scheduler.local_wakers.append(self.waker.kick)

    def stop(self) -> None:
        """Stop listening."""
        if self._listener is not None:
            self._listener.stop()
        elif self.waker.kick in scheduler.local_wakers:
            scheduler.local_wakers.remove(self.waker.kick)
