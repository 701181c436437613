"""A bounded, thread-safe LRU of tenant handles (one engine, one small pool each).

Bounding it bounds what a long-lived process holds: at most ``capacity`` engines, each with
at most ``pool_size + max_overflow`` connections. An evicted engine is disposed; sessions
still using one of its connections finish normally and the connection closes on return.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from .backend import TenantHandle


class EngineCache:
    """Least-recently-used cache of :class:`TenantHandle` keyed by slug."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the tenant engine cache needs a capacity of at least 1")
        self.capacity = capacity
        self._items: OrderedDict[str, TenantHandle] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, slug: str) -> TenantHandle | None:
        """Return the cached handle of ``slug`` (marking it recently used), if any."""
        with self._lock:
            handle = self._items.get(slug)
            if handle is not None:
                self._items.move_to_end(slug)
            return handle

    def put(self, handle: TenantHandle) -> TenantHandle:
        """Cache ``handle`` and return the handle now cached for its slug."""
        evicted: list[TenantHandle] = []
        with self._lock:
            existing = self._items.get(handle.slug)
            if existing is not None:
                # Another thread opened it first: keep theirs, drop ours.
                evicted.append(handle)
                handle = existing
            self._items[handle.slug] = handle
            self._items.move_to_end(handle.slug)
            while len(self._items) > self.capacity:
                evicted.append(self._items.popitem(last=False)[1])
        for old in evicted:
            old.dispose()
        return handle

    def discard(self, slug: str, only: TenantHandle | None = None) -> None:
        """Forget and dispose the handle of ``slug`` (only if it is ``only``, when given).

        ``only`` lets a caller that found its handle stale drop that handle without
        disposing a fresh one another thread has cached meanwhile.
        """
        with self._lock:
            handle = self._items.get(slug)
            if handle is None or (only is not None and handle is not only):
                handle = None
            else:
                del self._items[slug]
        if handle is not None:
            handle.dispose()
        elif only is not None:
            only.dispose()

    def clear(self) -> None:
        """Dispose every cached handle."""
        with self._lock:
            handles = list(self._items.values())
            self._items.clear()
        for handle in handles:
            handle.dispose()

    def __len__(self) -> int:
        return len(self._items)
