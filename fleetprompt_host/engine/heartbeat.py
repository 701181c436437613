"""Lease renewal for the work a worker thread holds, so long runs keep their claims.

Each worker thread has one :class:`Heartbeat`: a daemon thread that renews the leases of
everything the worker thread holds (the item running and the rest of its batch) every
third of the lease. An item whose renewal fails was finished, released, or claimed again
by another worker after its lease expired: it is remembered as lost, so the worker does
not start it, and its runner's commit (if it is running) is refused by the fence.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from ..storage import Database
from .claims import ClaimedWork, renew

log = logging.getLogger(__name__)


def _key(item: ClaimedWork) -> tuple[str, Any]:
    return (item.kind, item.id)


class Heartbeat:
    """Renews the leases of the items a worker thread holds (see module doc)."""

    def __init__(self, db: Database, lease: timedelta, *, name: str = "fp-heartbeat") -> None:
        self._db = db
        self._lease = lease
        self._interval = max(0.05, lease.total_seconds() / 3)
        self._held: dict[tuple[str, Any], ClaimedWork] = {}
        self._lost: set[tuple[str, Any]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def hold(self, items: Iterable[ClaimedWork]) -> None:
        """Start renewing ``items``."""
        with self._lock:
            for item in items:
                self._held[_key(item)] = item
                self._lost.discard(_key(item))

    def drop(self, item: ClaimedWork) -> None:
        """Stop renewing ``item`` (it finished or was released)."""
        with self._lock:
            self._held.pop(_key(item), None)
            self._lost.discard(_key(item))

    def held(self) -> list[ClaimedWork]:
        """Return the items currently held."""
        with self._lock:
            return list(self._held.values())

    def is_lost(self, item: ClaimedWork) -> bool:
        """True once a renewal found that ``item``'s claim is no longer ours."""
        with self._lock:
            return _key(item) in self._lost

    def beat(self) -> list[ClaimedWork]:
        """Renew every held lease now; return the items found lost."""
        by_tenant: dict[str, list[ClaimedWork]] = {}
        for item in self.held():
            by_tenant.setdefault(item.tenant, []).append(item)
        lost: list[ClaimedWork] = []
        for tenant, items in by_tenant.items():
            lost += renew(self._db, tenant, items, self._lease)
        with self._lock:
            # An item dropped while we renewed has simply finished: not lost.
            self._lost.update(_key(i) for i in lost if _key(i) in self._held)
        return lost

    def stop(self) -> None:
        """Stop renewing (the thread ends within one interval)."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.beat()
            except Exception as error:  # the next beat retries; the fence keeps us safe
                log.warning("lease renewal failed: %s", error)
