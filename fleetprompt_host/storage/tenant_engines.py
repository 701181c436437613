"""Tenant engines that share one dialect and one compiled-statement cache.

Every tenant needs a pool, and so an engine, of its own: on PostgreSQL its sessions
connect as the tenant's own role, on SQLite they open the tenant's own file.
``create_engine`` gives every engine its own dialect, and SQLAlchemy keys its
compiled-statement cache by the dialect object: each tenant's engine compiled every
statement again, which made the first visit to a tenant on PostgreSQL cost about ten
milliseconds more than the next (``bench/install_bench.py``; a rollout over more tenants
than the engine cache holds visits each one first). The engines made here share one
dialect, initialized once per process on a connection of its own, and one cache. One
compiled form serves every tenant because statements name tenant tables through the
schema translation map, which SQLAlchemy applies after compilation.

Everything else is as ``create_engine`` builds it: the same connection arguments, the
dialect's per-connection setup, a queue pool with the given sizes.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Dialect, Engine
from sqlalchemy.pool import NullPool, QueuePool
from sqlalchemy.util import LRUCache

#: Distinct statements kept compiled for all tenants together.
COMPILED_CACHE_SIZE = 1000


class SharedDialectEngines:
    """Makes tenant engines that share a dialect and a compiled cache.

    ``url`` is where the dialect is initialized (the host's server, or an in-memory
    SQLite database); ``dialect_options`` go to ``create_engine`` for that dialect.
    """

    def __init__(self, url: URL, **dialect_options: Any) -> None:
        self._url = url
        self._options = dialect_options
        self._dialect: Dialect | None = None
        self._lock = threading.Lock()
        self.compiled_cache: LRUCache[Any, Any] = LRUCache(COMPILED_CACHE_SIZE)

    def dialect(self) -> Dialect:
        """Return the shared dialect, initialized (on one host connection) at first use."""
        with self._lock:
            if self._dialect is None:
                template = create_engine(self._url, poolclass=NullPool, **self._options)
                try:
                    # The first connection runs the dialect's initialize (server version,
                    # string quoting and the like): the same server for every tenant.
                    with template.connect():
                        pass
                finally:
                    template.dispose()
                self._dialect = template.dialect
            return self._dialect

    def engine(
        self,
        url: URL,
        *,
        connect_args: dict[str, Any],
        pool_size: int,
        max_overflow: int,
        recycle: int = -1,
    ) -> Engine:
        """Return an engine connecting to ``url`` with ``connect_args``."""
        dialect = self.dialect()
        cargs, cparams = dialect.create_connect_args(url)
        params = {**cparams, **connect_args}

        def connect() -> Any:
            return dialect.connect(*cargs, **params)

        pool = QueuePool(
            connect,
            pool_size=pool_size,
            max_overflow=max_overflow,
            recycle=recycle,
            dialect=dialect,
        )
        setup = dialect.on_connect_url(url)
        if setup is not None:

            def _on_connect(dbapi_connection: Any, record: Any) -> None:
                setup(dbapi_connection)

            event.listen(pool, "connect", _on_connect)
        return Engine(
            pool,
            dialect,
            url,
            query_cache_size=0,
            execution_options={"compiled_cache": self.compiled_cache},
        )
