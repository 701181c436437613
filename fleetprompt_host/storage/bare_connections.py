"""Bare DBAPI write transactions on tenant engines, and the connection kept between them.

:meth:`~fleetprompt_host.storage.Database.tenant_dbapi` runs a few statements on a
tenant's pooled sqlite3 connection without a session. A pool checkout and checkin cost as
much as the two statements of an emit, so the last connection used for a tenant stays
checked out until the next block: it is kept with the handle (engine) it came from, one
of a dropped handle is closed instead of used, and at most ``capacity`` are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .backend import TenantHandle


@dataclass
class Bare:
    """A pooled DBAPI connection checked out of ``handle``'s engine."""

    handle: TenantHandle
    pooled: Any

    def close(self) -> None:
        """Give the connection back to its pool."""
        self.pooled.close()


class KeptConnections:
    """The bare connection kept for each tenant between blocks, by slug."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._kept: dict[str, Bare] = {}

    def begin(self, handle: TenantHandle) -> Bare:
        """Return a connection of ``handle`` (the kept one, if any) in a write transaction."""
        from .sqlite_dialect import set_mode

        kept = self._kept.pop(handle.slug, None)
        if kept is not None and kept.handle is not handle:
            kept.close()  # from a handle dropped since
            kept = None
        bare = kept or Bare(handle, handle.engine.raw_connection())
        try:
            set_mode(bare.pooled, readonly=False)
            handle.engine.dialect.do_begin(bare.pooled)
        except BaseException:
            bare.close()
            raise
        return bare

    def keep(self, bare: Bare, current: TenantHandle | None) -> None:
        """Keep ``bare`` (its transaction ended) if ``current`` is still its handle."""
        if (
            current is not bare.handle
            or len(self._kept) >= self.capacity
            or self._kept.setdefault(bare.handle.slug, bare) is not bare
        ):
            bare.close()

    def drop(self, slug: str | None = None) -> None:
        """Close the connection kept for ``slug`` (for every tenant when None)."""
        for key in [slug] if slug is not None else list(self._kept):
            kept = self._kept.pop(key, None)
            if kept is not None:
                kept.close()
